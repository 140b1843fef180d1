// The HTTP front end over a real loopback socket, against the real binary.
#include <gtest/gtest.h>

#include "tests/server_process.hpp"
#include "tests/temp_dir.hpp"

namespace ap::test {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  TempDir dir_;
  ServerProcess server_{AP_BINARY, dir_.path() + "/data", {"--body-limit", "4096"}};
};

TEST_F(HttpServerTest, HealthzReportsStatusVersionAndLogHead) {
  HttpClient client(server_.port());
  HttpResult r = client.request("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"status\":\"ok\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"version\":\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"logHead\":"), std::string::npos) << r.body;
  // Keep-alive: the same connection serves a second request.
  EXPECT_EQ(client.request("GET", "/healthz").status, 200);
}

TEST_F(HttpServerTest, UnknownRouteIs404InTheErrorShape) {
  HttpClient client(server_.port());
  HttpResult r = client.request("GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"detail\":"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"error\":{"), std::string::npos) << r.body;
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  HttpClient client(server_.port());
  HttpResult r = client.request("POST", "/healthz", std::string(10'000, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("PAYLOAD_TOO_LARGE"), std::string::npos) << r.body;
}

TEST_F(HttpServerTest, MalformedRequestLineIs400) {
  HttpClient client(server_.port());
  HttpResult r = client.send_raw("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(r.status, 400);
}

TEST_F(HttpServerTest, SigtermStopsGracefully) {
  HttpClient client(server_.port());
  ASSERT_EQ(client.request("GET", "/healthz").status, 200);
  const int status = server_.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace ap::test
