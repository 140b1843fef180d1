#include "actors/carrier_dispatch.hpp"

#include <cstdio>

namespace ap::actors {

namespace json = boost::json;

CarrierDispatch::CarrierDispatch(Runtime& runtime, domain::CarrierPort& carrier)
    : runtime_(runtime), carrier_(carrier) {}

void CarrierDispatch::submit(const json::object& queued) {
  auto text = [&](const char* key) { return std::string(domain::field(queued, key).as_string()); };
  domain::OutboundSms sms;
  sms.message_id = text("messageId");
  sms.conversation_id = text("conversationId");
  sms.account_id = text("accountId");
  sms.from = text("from");
  sms.to = text("to");
  sms.body = text("body");
  for (const json::value& url : domain::field(queued, "mediaUrls").as_array()) {
    sms.media_urls.emplace_back(url.as_string());
  }
  sms.segments = domain::field(queued, "segments").to_number<std::int64_t>();
  carrier_.send_sms(sms, [this](const domain::CarrierReport& report) { on_report(report); });
}

void CarrierDispatch::on_report(const domain::CarrierReport& report) {
  json::object args{{"messageId", report.message_id}, {"status", report.status}};
  if (!report.error_code.empty()) args["errorCode"] = report.error_code;
  if (!report.error_message.empty()) args["errorMessage"] = report.error_message;
  runtime_.send(EntityKind::kConversation, report.conversation_id,
                {"conversation.status", report.account_id, std::move(args)},
                [id = report.message_id](CommandResult result) {
                  if (result.ok) return;
                  std::fprintf(stderr, "agentphone: carrier report for %s not recorded: %s\n",
                               id.c_str(), result.error.message.c_str());
                });
}

}  // namespace ap::actors
