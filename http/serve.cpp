#include "http/serve.hpp"

#include <cstdio>
#include <fstream>
#include <memory>

#include <boost/json/parse.hpp>

#include "actors/carrier_dispatch.hpp"
#include "actors/runtime.hpp"
#include "actors/secrets.hpp"
#include "eventstore/event_store.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "http/webhook_client.hpp"
#include "http/webhook_dispatch.hpp"
#include "projections/core_view.hpp"
#include "sim/carrier.hpp"

namespace ap::http {

int run_serve(const ServeConfig& config) {
  es::Options options;
  options.path = config.data_dir;
  std::unique_ptr<es::EventStore> store;
  es::Status status = es::EventStore::open(options, &store);
  if (!status.ok()) {
    std::fprintf(stderr, "agentphone: %s\n", status.message().c_str());
    return 1;
  }

  // Embedded defaults for the ports: the simulated carrier and OpenSSL ids.
  // A number whose phone stream exists was claimed once and never returns.
  sim::SimCarrierOptions carrier_options;
  carrier_options.per_area_code = config.sim_numbers_per_area_code;
  carrier_options.send_delay_ms = config.sim_send_delay_ms;
  carrier_options.deliver_delay_ms = config.sim_deliver_delay_ms;
  sim::SimCarrier carrier(
      [&store](const std::string& e164) {
        return store->stream_version(domain::phone_stream(e164)) > 0;
      },
      carrier_options);
  domain::RandomIds ids;

  projections::CoreView view(*store);
  view.start();
  // Serve only once the read model has caught up with the log, so that the
  // first request already sees every earlier write.
  while (!view.wait_until(store->head_position(), 1000)) {
    std::fprintf(stderr, "agentphone: catching up: projection at %llu of %llu\n",
                 static_cast<unsigned long long>(view.checkpoint()),
                 static_cast<unsigned long long>(store->head_position()));
  }

  actors::RuntimeOptions runtime_options;
  runtime_options.idle_timeout_ms = config.idle_timeout_ms;
  auto runtime = std::make_unique<actors::Runtime>(*store, ids, carrier, runtime_options);

  // Outbound messages reach the carrier once their "message.queued" is in the
  // read model; those still pending from before this start are handed over
  // again first (the carrier ignores one it already holds). Webhook
  // deliveries likewise: created and sent from applied events, resumed here.
  WebhookClientOptions client_options;
  client_options.production = !config.sandbox;
  for (const std::string& pair : config.webhook_resolve) {
    const std::size_t eq = pair.find('=');
    if (eq == std::string::npos) continue;
    client_options.resolve_overrides[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  WebhookClient webhook_client(client_options);
  WebhookDispatchOptions webhook_options;
  webhook_options.production = !config.sandbox;
  webhook_options.retry_base_ms = config.webhook_retry_base_ms;
  webhook_options.max_in_flight_per_endpoint = config.webhook_max_in_flight;
  WebhookDispatch webhooks(*runtime, view, webhook_client, webhook_options);
  actors::CarrierDispatch dispatch(*runtime, carrier);
  view.set_listener([&dispatch, &webhooks](const std::string& type, const std::string& payload) {
    if (type == "message.queued") dispatch.submit(boost::json::parse(payload).as_object());
    webhooks.on_event(type, payload);
  });
  webhooks.resume();
  const std::vector<boost::json::object> pending = view.pending_outbound();
  for (const boost::json::object& queued : pending) dispatch.submit(queued);
  if (!pending.empty()) {
    std::fprintf(stderr, "agentphone: resubmitted %zu pending outbound messages\n", pending.size());
  }

  Api api(*store, *runtime, view, ids, config.sandbox ? &carrier : nullptr, webhooks);

  ServerOptions server_options;
  server_options.address = config.address;
  server_options.port = config.port;
  server_options.io_threads = config.io_threads;
  server_options.body_limit_bytes = config.body_limit_bytes;
  Server server(server_options,
                [&api](Request request, Reply reply) { api.handle(std::move(request), reply); });
  const std::string error = server.start();
  if (!error.empty()) {
    std::fprintf(stderr, "agentphone: %s\n", error.c_str());
    return 1;
  }
  if (!config.port_file.empty()) {
    std::ofstream(config.port_file) << server.port() << "\n";
  }
  std::fprintf(stderr,
               "agentphone %s listening on http://%s:%u (data: %s, carrier: simulated, mode: %s)\n",
               AP_VERSION, config.address.c_str(), static_cast<unsigned>(server.port()),
               config.data_dir.c_str(), config.sandbox ? "sandbox" : "production");
  server.wait();
  // In-flight requests are done. Stop the carrier's reports, then close the
  // log: it drains queued appends, whose completions still reach live
  // actors; then stop the actors. The projection's listener is cleared before
  // `dispatch` goes away.
  carrier.stop();
  webhook_client.stop();
  view.set_listener(nullptr);
  store->close();
  runtime.reset();
  std::fprintf(stderr, "agentphone: stopped; log head %llu\n",
               static_cast<unsigned long long>(store->head_position()));
  return 0;
}

}  // namespace ap::http
