#include "http/serve.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <fstream>
#include <memory>

#include "eventstore/event_store.hpp"
#include "http/server.hpp"

#ifndef AP_VERSION
#define AP_VERSION "dev"
#endif

namespace ap::http {

namespace {

Response health(const es::EventStore& store) {
  boost::json::object body;
  body["status"] = "ok";
  body["version"] = AP_VERSION;
  body["logHead"] = store.head_position();
  Response response;
  response.body = boost::json::serialize(body);
  return response;
}

}  // namespace

int run_serve(const ServeConfig& config) {
  es::Options options;
  options.path = config.data_dir;
  std::unique_ptr<es::EventStore> store;
  es::Status status = es::EventStore::open(options, &store);
  if (!status.ok()) {
    std::fprintf(stderr, "agentphone: %s\n", status.message().c_str());
    return 1;
  }

  ServerOptions server_options;
  server_options.address = config.address;
  server_options.port = config.port;
  server_options.io_threads = config.io_threads;
  server_options.body_limit_bytes = config.body_limit_bytes;
  Server server(server_options, [&store](Request request, Reply reply) {
    const std::string path = request.target.substr(0, request.target.find('?'));
    if (path == "/healthz") {
      if (request.method != "GET") {
        return reply(error_response(405, "Method Not Allowed", "METHOD_NOT_ALLOWED",
                                    "invalid_request_error"));
      }
      return reply(health(*store));
    }
    reply(error_response(404, "Not Found", "NOT_FOUND", "not_found"));
  });
  const std::string error = server.start();
  if (!error.empty()) {
    std::fprintf(stderr, "agentphone: %s\n", error.c_str());
    return 1;
  }
  if (!config.port_file.empty()) {
    std::ofstream(config.port_file) << server.port() << "\n";
  }
  std::fprintf(stderr, "agentphone %s listening on http://%s:%u (data: %s)\n", AP_VERSION,
               config.address.c_str(), static_cast<unsigned>(server.port()),
               config.data_dir.c_str());
  server.wait();
  store->close();
  std::fprintf(stderr, "agentphone: stopped; log head %llu\n",
               static_cast<unsigned long long>(store->head_position()));
  return 0;
}

}  // namespace ap::http
