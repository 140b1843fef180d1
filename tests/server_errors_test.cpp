// How the HTTP server answers a handler that throws, over a real socket: a
// store that fails a read is 503 (the client may retry), a broken invariant
// is 500 with what was expected, and the server goes on answering.
#include <gtest/gtest.h>

#include "actors/invariant.hpp"
#include "eventstore/status.hpp"
#include "http/server.hpp"
#include "tests/server_process.hpp"

namespace ap::test {
namespace {

TEST(ServerErrors, AFailedStoreReadIs503AndABrokenInvariant500AndTheServerGoesOn) {
  http::ServerOptions options;
  options.port = 0;
  options.io_threads = 1;
  http::Server server(options, [](http::Request request, http::Reply reply) {
    if (request.target == "/storage") {
      throw es::StorageError(es::Status(es::Code::kIoError, "the disk is gone"));
    }
    if (request.target == "/invariant") invariant_failed("the row exists", "here.cpp", 7);
    http::Response ok;
    ok.body = "{}";
    reply(std::move(ok));
  });
  ASSERT_EQ(server.start(), "");
  HttpClient client(server.port());

  HttpResult storage = client.request("GET", "/storage");
  EXPECT_EQ(storage.status, 503);
  EXPECT_NE(storage.body.find("\"STORAGE_UNAVAILABLE\""), std::string::npos) << storage.body;
  EXPECT_NE(storage.body.find("the disk is gone"), std::string::npos) << storage.body;
  EXPECT_NE(storage.headers.find("Retry-After: 1"), std::string::npos) << storage.headers;

  HttpResult invariant = client.request("GET", "/invariant");
  EXPECT_EQ(invariant.status, 500);
  EXPECT_NE(invariant.body.find("\"INTERNAL_ERROR\""), std::string::npos) << invariant.body;
  EXPECT_NE(invariant.body.find("the row exists (here.cpp:7)"), std::string::npos)
      << invariant.body;

  EXPECT_EQ(client.request("GET", "/fine").status, 200);
}

}  // namespace
}  // namespace ap::test
