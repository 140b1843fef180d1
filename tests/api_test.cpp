// The REST API over a real loopback socket, against the real binary.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "tests/api_fixture.hpp"

namespace ap::test {
namespace {

TEST_F(ApiTest, RequiresAValidBearerKey) {
  HttpClient client(server_->port());
  HttpResult none = client.request("GET", "/v1/agents");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("UNAUTHORIZED"), std::string::npos);
  HttpResult bad = client.request("GET", "/v1/agents", "", {{"Authorization", "Bearer sk_live_x"}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(call(alice_, "GET", "/v1/agents").status, 200);
  EXPECT_EQ(call(alice_, "GET", "/v1/nothing-here").status, 404);
  EXPECT_EQ(call(alice_, "PUT", "/v1/agents").status, 405);
}

TEST_F(ApiTest, RevokedKeysAreRefusedAndOtherKeysKeepWorking) {
  ASSERT_EQ(call(alice_, "GET", "/v1/agents").status, 200);
  server_->stop(SIGTERM);
  const std::string admin = std::string(AP_BINARY) + " admin --data-dir " + data_;
  FILE* pipe = popen((admin + " create-key --account " + alice_.id).c_str(), "r");
  char line[256] = {};
  Account second = alice_;
  if (pipe != nullptr && fgets(line, sizeof line, pipe) != nullptr) {
    second.key = std::string(line + 8, strcspn(line + 8, "\n"));  // "api_key=..."
  }
  if (pipe != nullptr) pclose(pipe);
  pipe = popen((admin + " list-keys --account " + alice_.id).c_str(), "r");
  std::string first_key_id;
  if (pipe != nullptr && fgets(line, sizeof line, pipe) != nullptr) {
    first_key_id = std::string(line, strcspn(line, " "));
  }
  if (pipe != nullptr) pclose(pipe);
  ASSERT_EQ(first_key_id.rfind("key_", 0), 0u);
  ASSERT_EQ(std::system((admin + " revoke-key --account " + alice_.id + " --key-id " +
                         first_key_id + " >/dev/null")
                            .c_str()),
            0);
  server_->start();
  EXPECT_EQ(call(alice_, "GET", "/v1/agents").status, 401);
  EXPECT_EQ(call(second, "GET", "/v1/agents").status, 200);
}

// Runs `agentphone admin --data-dir <data> <args>` and returns its exit code
// and standard output.
std::pair<int, std::string> run_admin(const std::string& data, const std::string& args) {
  const std::string command =
      std::string(AP_BINARY) + " admin --data-dir " + data + " " + args + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char chunk[512];
  while (pipe != nullptr && fgets(chunk, sizeof chunk, pipe) != nullptr) out += chunk;
  return {pipe == nullptr ? -1 : WEXITSTATUS(pclose(pipe)), out};
}

// The server holds the folder, so operator commands go through it: the same
// output, and their effects live at once; a killed server's stale admin.json
// does not stop them from opening the folder afterwards.
TEST_F(ApiTest, OperatorCommandsWorkWhileTheServerRuns) {
  const auto [created_exit, created] = run_admin(data_, "create-account --email carol@example.com");
  ASSERT_EQ(created_exit, 0) << created;
  Account carol;
  carol.id = created.substr(11, created.find('\n') - 11);
  carol.key = created.substr(created.find("api_key=") + 8, 56);
  EXPECT_EQ(call(carol, "GET", "/v1/agents").status, 200) << created;

  const auto [key_exit, key_text] = run_admin(data_, "create-key --account " + carol.id);
  ASSERT_EQ(key_exit, 0);
  Account second = carol;
  second.key = key_text.substr(8, 56);
  EXPECT_EQ(call(second, "GET", "/v1/agents").status, 200);
  const auto [list_exit, listed] = run_admin(data_, "list-keys --account " + carol.id);
  EXPECT_EQ(list_exit, 0);
  const std::string first_key_id = listed.substr(0, listed.find(' '));
  EXPECT_EQ(std::count(listed.begin(), listed.end(), '\n'), 2) << listed;
  EXPECT_EQ(
      run_admin(data_, "revoke-key --account " + carol.id + " --key-id " + first_key_id).first, 0);
  EXPECT_EQ(call(carol, "GET", "/v1/agents").status, 401);
  EXPECT_EQ(call(second, "GET", "/v1/agents").status, 200);
  EXPECT_NE(run_admin(data_, "list-keys --account acct_nobody").first, 0);
  // The same email cannot make a second account.
  EXPECT_NE(run_admin(data_, "create-account --email carol@example.com").first, 0);

  // A consistent copy while the server runs opens like any data folder.
  const std::string copy = dir_.path() + "/backup";
  ASSERT_EQ(run_admin(data_, "backup --to " + copy).first, 0);
  EXPECT_EQ(run_admin(copy, "list-keys --account " + carol.id).second,
            run_admin(data_, "list-keys --account " + carol.id).second);

  // The endpoint wants the token from the folder.
  HttpClient client(server_->port());
  EXPECT_EQ(client.request("POST", "/admin/command", R"({"op":"list-keys"})").status, 403);
  EXPECT_EQ(client
                .request("POST", "/admin/command", R"({"op":"list-keys"})",
                         {{"Authorization", "Bearer wrong"}})
                .status,
            403);

  server_->stop(SIGKILL);
  const auto [offline_exit, offline] = run_admin(data_, "list-keys --account " + carol.id);
  EXPECT_EQ(offline_exit, 0);
  // Read from the folder itself: the revocation made through the server is there.
  EXPECT_EQ(offline.substr(0, offline.find('\n')),
            first_key_id + " " + listed.substr(first_key_id.size() + 1, 15) + " revoked")
      << offline;
  server_->start();
}

// GET /openapi.json is the router's own catalog: every operation in it is
// answered by a route (a specific answer, never the unknown-route 404 or a
// 405), and the official SDK's paths we implement are all there.
TEST_F(ApiTest, TheOpenApiDocumentListsExactlyWhatTheRouterServes) {
  HttpClient client(server_->port());
  const HttpResult doc = client.request("GET", "/openapi.json");
  ASSERT_EQ(doc.status, 200);
  const json::object openapi = json::parse(doc.body).as_object();
  EXPECT_EQ(openapi.at("openapi"), "3.1.0");
  const json::object& paths = openapi.at("paths").as_object();
  int operations = 0;
  for (const auto& [path, item] : paths) {
    std::string target(path);
    for (std::size_t at; (at = target.find('{')) != std::string::npos;) {
      target.replace(at, target.find('}', at) - at + 1, "zz_missing");
    }
    for (const auto& [method, operation] : item.as_object()) {
      std::string verb(method);
      for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const bool bearer = !operation.at("security").as_array().empty();
      const HttpResult r =
          bearer ? call(alice_, verb, target, "{}") : client.request(verb, target, "{}");
      ++operations;
      EXPECT_NE(r.status, 405) << verb << " " << target << " -> " << r.body;
      const bool unknown = r.status == 404 && json::parse(r.body).at("detail") == "Not Found";
      EXPECT_FALSE(unknown) << verb << " " << target << " is in the catalog but not routed";
    }
  }
  EXPECT_GT(operations, 50);
  for (const char* sdk_path : {"/v1/agents",
                               "/v1/agents/{agent_id}",
                               "/v1/agents/{agent_id}/numbers",
                               "/v1/agents/{agent_id}/numbers/{number_id}",
                               "/v1/agents/{agent_id}/conversations",
                               "/v1/agents/{agent_id}/calls",
                               "/v1/agents/{agent_id}/webhook",
                               "/v1/numbers",
                               "/v1/numbers/{number_id}",
                               "/v1/numbers/{number_id}/messages",
                               "/v1/numbers/{number_id}/calls",
                               "/v1/messages",
                               "/v1/conversations",
                               "/v1/conversations/{conversation_id}",
                               "/v1/conversations/{conversation_id}/messages",
                               "/v1/webhooks",
                               "/v1/webhooks/deliveries",
                               "/v1/webhooks/test",
                               "/v1/calls",
                               "/v1/calls/{call_id}",
                               "/v1/calls/{call_id}/end",
                               "/v1/calls/{call_id}/transcript",
                               "/v1/calls/{call_id}/recording",
                               "/v0/agent/sign-up",
                               "/v0/agent/verify"}) {
    EXPECT_TRUE(paths.contains(sdk_path)) << sdk_path;
  }
  // And the other way: every route the router names (its metrics labels,
  // literal in http/*.cpp) is an operation of the document.
  auto shape = [](std::string path) {
    for (std::size_t at; (at = path.find('{')) != std::string::npos;) {
      path.replace(at, path.find('}', at) - at + 1, "*");
    }
    return path;
  };
  std::set<std::string> documented;
  for (const auto& [path, item] : paths) documented.insert(shape(std::string(path)));
  const std::regex label(R"re(route_label = (?:[a-z]+ \? )?"(/[^"]+)"(?: : "(/[^"]+)")?)re");
  int labels = 0;
  for (const auto& entry : std::filesystem::directory_iterator(AP_SOURCE_DIR "/http")) {
    if (entry.path().extension() != ".cpp") continue;
    std::ifstream file(entry.path());
    const std::string code((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    for (auto it = std::sregex_iterator(code.begin(), code.end(), label);
         it != std::sregex_iterator(); ++it) {
      for (std::size_t group = 1; group <= 2; ++group) {
        if (!(*it)[group].matched) continue;
        ++labels;
        EXPECT_TRUE(documented.count(shape((*it)[group].str())) > 0)
            << (*it)[group].str() << " is routed (" << entry.path().filename().string()
            << ") but missing from http/routes.cpp";
      }
    }
  }
  EXPECT_GT(labels, 25);

  const HttpResult guide = client.request("GET", "/llms.txt");
  EXPECT_EQ(guide.status, 200);
  EXPECT_NE(guide.body.find("POST /v0/agent/sign-up"), std::string::npos) << guide.body;
  EXPECT_NE(guide.body.find("Authorization: Bearer"), std::string::npos);
}

TEST_F(ApiTest, AgentLifecycleWithReadYourWrites) {
  json::object created = call_json(alice_, "POST", "/v1/agents",
                                   R"({"name":"Support","voiceMode":"hosted",
                                       "systemPrompt":"Help","voiceSpeed":1.5,"language":"fr-FR"})")
                             .as_object();
  const std::string id(created.at("id").as_string());
  EXPECT_EQ(id.rfind("agt_", 0), 0u);
  EXPECT_EQ(created.at("voiceSpeed").as_double(), 1.5);
  EXPECT_EQ(created.at("maxSilenceMs"), 600000);
  EXPECT_TRUE(created.at("numbers").as_array().empty());

  json::object fetched = call_json(alice_, "GET", "/v1/agents/" + id).as_object();
  EXPECT_EQ(fetched.at("name"), "Support");
  json::object patched =
      call_json(alice_, "PATCH", "/v1/agents/" + id, R"({"description":"Front desk"})").as_object();
  EXPECT_EQ(patched.at("description"), "Front desk");
  EXPECT_EQ(patched.at("language"), "fr-FR");  // Unsent fields keep their values.
  json::object switched =
      call_json(alice_, "PATCH", "/v1/agents/" + id, R"({"voiceMode":"webhook"})").as_object();
  EXPECT_EQ(switched.at("voiceMode"), "webhook");

  for (int i = 0; i < 4; ++i) call_json(alice_, "POST", "/v1/agents", R"({"name":"n"})");
  json::object page = call_json(alice_, "GET", "/v1/agents?limit=2&offset=1").as_object();
  EXPECT_EQ(page.at("total"), 5);
  EXPECT_EQ(page.at("data").as_array().size(), 2u);
  EXPECT_EQ(call_json(bob_, "GET", "/v1/agents").at("total"), 0);

  json::object deleted = call_json(alice_, "DELETE", "/v1/agents/" + id).as_object();
  EXPECT_EQ(deleted.at("success"), true);
  EXPECT_EQ(deleted.at("name"), "Support");
  EXPECT_EQ(call(alice_, "GET", "/v1/agents/" + id).status, 404);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/agents").at("total"), 4);
}

TEST_F(ApiTest, VoicesCatalogueHasTheDefaultVoice) {
  json::array voices = call_json(alice_, "GET", "/v1/agents/voices").at("data").as_array();
  ASSERT_FALSE(voices.empty());
  EXPECT_EQ(voices[0].at("voice_id"), "custom_voice_ea22ba5fdfaa18f39c274851c1");
  for (const json::value& v : voices) EXPECT_TRUE(v.as_object().contains("voice_name"));
}

TEST_F(ApiTest, BadInputIsRefusedAndWritesNothing) {
  expect_refused(alice_, "POST", "/v1/agents", "{not json", 422);
  expect_refused(alice_, "POST", "/v1/agents", "[1,2]", 422);
  expect_refused(alice_, "POST", "/v1/agents", "", 422);
  expect_refused(alice_, "POST", "/v1/agents", R"({"description":"no name"})", 422);
  expect_refused(alice_, "POST", "/v1/agents", R"({"name":7})", 422);
  expect_refused(alice_, "POST", "/v1/agents", R"({"name":"x","voiceMode":"robot"})", 422);
  expect_refused(alice_, "POST", "/v1/agents", R"({"name":"x","maxSilenceMs":1})", 422);
  expect_refused(alice_, "POST", "/v1/agents", R"({"name":"x","interruptionSensitivity":2})", 422);
  expect_refused(alice_, "POST", "/v1/agents", R"({"name":"x","voiceMode":"hosted"})", 422);
  expect_refused(alice_, "POST", "/v1/agents", R"({"name":"x","voice":"nobody"})", 422);
  expect_refused(alice_, "POST", "/v1/agents", R"({"name":"x","transferNumber":"555"})", 422);
  expect_refused(alice_, "POST", "/v1/agents", "{\"name\":\"" + std::string(70000, 'a') + "\"}",
                 413);
  expect_refused(alice_, "GET", "/v1/agents?limit=500", "", 422);
  expect_refused(alice_, "GET", "/v1/agents?limit=abc", "", 422);
  expect_refused(alice_, "GET", "/v1/numbers?offset=-1", "", 422);
  expect_refused(alice_, "POST", "/v1/numbers", R"({"country":"GB"})", 422);
  expect_refused(alice_, "POST", "/v1/numbers", R"({"areaCode":"12"})", 422);
  expect_refused(alice_, "POST", "/v1/numbers", R"({"areaCode":123})", 422);
  expect_refused(alice_, "POST", "/v1/numbers", R"({"areaCode":"999"})", 400);
  expect_refused(alice_, "POST", "/v1/numbers", R"({"country":"US","areaCode":"416"})", 400);
  expect_refused(alice_, "POST", "/v1/numbers", R"({"agentId":"agt_missing"})", 404);
  expect_refused(alice_, "PATCH", "/v1/agents/agt_missing", R"({"name":"x"})", 404);

  HttpResult r = call(alice_, "POST", "/v1/agents", R"({"name":"x","voiceSpeed":"fast"})");
  json::object body = json::parse(r.body).as_object();
  const json::object& first = body.at("detail").as_array().at(0).as_object();
  EXPECT_EQ(first.at("loc"), (json::array{"body", "voiceSpeed"}));
  EXPECT_EQ(first.at("type"), "float_type");
  EXPECT_EQ(body.at("error").at("code"), "VALIDATION_ERROR");
}

TEST_F(ApiTest, AnotherAccountsIdsAreNotFound) {
  const std::string agent(
      call_json(alice_, "POST", "/v1/agents", R"({"name":"mine"})").at("id").as_string());
  const std::string number(call_json(alice_, "POST", "/v1/numbers", "{}").at("id").as_string());
  expect_refused(bob_, "GET", "/v1/agents/" + agent, "", 404);
  expect_refused(bob_, "PATCH", "/v1/agents/" + agent, R"({"name":"theirs"})", 404);
  expect_refused(bob_, "DELETE", "/v1/agents/" + agent, "", 404);
  expect_refused(bob_, "GET", "/v1/numbers/" + number, "", 404);
  expect_refused(bob_, "DELETE", "/v1/numbers/" + number, "", 404);
  expect_refused(bob_, "POST", "/v1/agents/" + agent + "/numbers",
                 "{\"numberId\":\"" + number + "\"}", 404);
  const std::string bobs(
      call_json(bob_, "POST", "/v1/agents", R"({"name":"bob"})").at("id").as_string());
  expect_refused(bob_, "POST", "/v1/agents/" + bobs + "/numbers",
                 "{\"numberId\":\"" + number + "\"}", 404);
  EXPECT_EQ(call_json(alice_, "GET", "/v1/agents/" + agent).at("name"), "mine");
}

TEST_F(ApiTest, NumbersProvisionAttachDetachAndRelease) {
  const std::string agent(
      call_json(alice_, "POST", "/v1/agents", R"({"name":"a"})").at("id").as_string());
  json::object number = call_json(alice_, "POST", "/v1/numbers",
                                  "{\"areaCode\":\"212\",\"agentId\":\"" + agent + "\"}")
                            .as_object();
  const std::string id(number.at("id").as_string());
  EXPECT_EQ(id.rfind("num_", 0), 0u);
  EXPECT_EQ(std::string(number.at("phoneNumber").as_string()).substr(0, 5), "+1212");
  EXPECT_EQ(number.at("status"), "active");
  EXPECT_EQ(number.at("agentId"), agent.c_str());
  EXPECT_EQ(call_json(alice_, "GET", "/v1/agents/" + agent).at("numbers").as_array().size(), 1u);

  // The $5.00 sign-up credit pays for one $3.00 number.
  HttpResult broke = call(alice_, "POST", "/v1/numbers", "{}");
  EXPECT_EQ(broke.status, 402);
  EXPECT_NE(broke.body.find("INSUFFICIENT_BALANCE"), std::string::npos);

  EXPECT_EQ(call_json(alice_, "DELETE", "/v1/agents/" + agent + "/numbers/" + id).at("success"),
            true);
  EXPECT_TRUE(call_json(alice_, "GET", "/v1/numbers/" + id).at("agentId").is_null());
  json::object attached =
      call_json(alice_, "POST", "/v1/agents/" + agent + "/numbers", "{\"numberId\":\"" + id + "\"}")
          .as_object();
  EXPECT_EQ(attached.at("number").at("id"), id.c_str());
  // Deleting the agent keeps the number, unattached.
  call_json(alice_, "DELETE", "/v1/agents/" + agent);
  EXPECT_TRUE(call_json(alice_, "GET", "/v1/numbers/" + id).at("agentId").is_null());

  json::object released = call_json(alice_, "DELETE", "/v1/numbers/" + id).as_object();
  EXPECT_EQ(released.at("status"), "released");
  EXPECT_EQ(call_json(alice_, "GET", "/v1/numbers/" + id).at("status"), "released");
  json::object list = call_json(alice_, "GET", "/v1/numbers").as_object();
  EXPECT_EQ(list.at("total"), 0);
  EXPECT_EQ(list.at("hasMore"), false);
  expect_refused(alice_, "DELETE", "/v1/numbers/" + id, "", 400);

  // Canadian numbers come from Canadian area codes.
  json::object ca = call_json(bob_, "POST", "/v1/numbers", R"({"country":"CA"})").as_object();
  EXPECT_EQ(std::string(ca.at("phoneNumber").as_string()).substr(0, 5), "+1416");
}

// Numbers are unique across accounts; a released number never returns to the
// inventory (2 per area code here), which then runs out with a clear error.
TEST_F(ApiTest, AreaCodeInventoryIsUniqueAndRunsOut) {
  std::string first(call_json(alice_, "POST", "/v1/numbers", R"({"areaCode":"305"})")
                        .at("phoneNumber")
                        .as_string());
  std::string second(call_json(bob_, "POST", "/v1/numbers", R"({"areaCode":"305"})")
                         .at("phoneNumber")
                         .as_string());
  EXPECT_NE(first, second);
  call_json(alice_, "DELETE",
            "/v1/numbers/" +
                std::string(
                    call_json(alice_, "GET", "/v1/numbers").at("data").at(0).at("id").as_string()));
  server_->stop(SIGTERM);
  Account carol = create_account(data_, "carol@example.com");
  server_->start();
  HttpResult r = call(carol, "POST", "/v1/numbers", R"({"areaCode":"305"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("AREA_CODE_EXHAUSTED"), std::string::npos);
}

TEST_F(ApiTest, DataSurvivesRestartAndKillNine) {
  const std::string agent(
      call_json(alice_, "POST", "/v1/agents", R"({"name":"durable"})").at("id").as_string());
  const std::string before = call(alice_, "GET", "/v1/agents/" + agent).body;
  server_->restart();
  EXPECT_EQ(call(alice_, "GET", "/v1/agents/" + agent).body, before);
  call_json(alice_, "PATCH", "/v1/agents/" + agent, R"({"description":"acknowledged"})");
  server_->stop(SIGKILL);
  server_->start();
  EXPECT_EQ(call_json(alice_, "GET", "/v1/agents/" + agent).at("description"), "acknowledged");
}

TEST_F(ApiTest, IdleActorsPassivateAndRehydrate) {
  const std::string agent(
      call_json(alice_, "POST", "/v1/agents", R"({"name":"sleepy"})").at("id").as_string());
  HttpClient health(server_->port());
  std::int64_t live = -1;
  for (int i = 0; i < 100 && live != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    live = json::parse(health.request("GET", "/healthz").body).at("liveActors").as_int64();
  }
  EXPECT_EQ(live, 0);
  EXPECT_EQ(call_json(alice_, "PATCH", "/v1/agents/" + agent, R"({"name":"awake"})").at("name"),
            "awake");
}

TEST_F(ApiTest, MetricsArePrometheusText) {
  call(alice_, "GET", "/v1/agents");
  HttpClient client(server_->port());
  HttpResult r = client.request("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("agentphone_http_requests_total{method=\"GET\",route=\"/v1/agents\","
                        "status=\"200\"}"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("agentphone_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(r.body.find("agentphone_log_head_position"), std::string::npos);
  EXPECT_NE(r.body.find("agentphone_webhook_attempts_total 0"), std::string::npos);
  EXPECT_NE(r.body.find("agentphone_sim_carrier_messages_accepted_total 0"), std::string::npos);
}

// Limits that keep one client from crowding out the rest: requests per API
// key (a token bucket) and open connections per address.
class LimitsTest : public ApiTest {
 protected:
  std::vector<std::string> server_flags() const override {
    return {"--rate-limit-per-key",     "2", "--rate-limit-burst", "3",
            "--max-connections-per-ip", "6"};
  }
};

TEST_F(LimitsTest, AKeyOverItsRateIsToldWhenToComeBack) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call(alice_, "GET", "/v1/agents").status, 200) << i;
  const HttpResult limited = call(alice_, "GET", "/v1/agents");
  expect_error(limited, 429, "RATE_LIMITED");
  const std::size_t retry = limited.headers.find("Retry-After: ");
  ASSERT_NE(retry, std::string::npos) << limited.headers;
  EXPECT_GE(std::stoi(limited.headers.substr(retry + 13)), 1);
  // Another key is not slowed down by this one.
  EXPECT_EQ(call(bob_, "GET", "/v1/agents").status, 200);
  // Two a second come back.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(call(alice_, "GET", "/v1/agents").status, 200);
}

TEST_F(LimitsTest, OneAddressCannotHoldEveryConnection) {
  std::vector<std::unique_ptr<HttpClient>> held;
  for (int i = 0; i < 6; ++i) {
    held.push_back(std::make_unique<HttpClient>(server_->port()));
    EXPECT_EQ(held.back()->request("GET", "/healthz").status, 200) << i;
  }
  HttpClient seventh(server_->port());
  const HttpResult refused = seventh.request("GET", "/healthz");
  expect_error(refused, 503, "TOO_MANY_CONNECTIONS");
  held.pop_back();  // Closes one: a slot is free again.
  EXPECT_TRUE(eventually([&] {
    HttpClient again(server_->port());
    return again.request("GET", "/healthz").status == 200;
  }));
}

}  // namespace
}  // namespace ap::test
