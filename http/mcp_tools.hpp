// The MCP tools (contract D.2): each tool's name, title, description, input
// schema and annotations, and how its arguments become the REST requests it
// runs. Pure: nothing here sends anything (http/mcp.cpp does).
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace ap::http::mcp {

// One REST request a tool runs: method, target (path and query) and body.
struct RestCall {
  std::string method;
  std::string target;
  std::string body;  // JSON text, or "" for none.
};

struct ToolPlan {
  std::vector<RestCall> calls;  // Run in order; more than one only for account_overview.
  // The names of the calls' results when there are several, e.g. "agents".
  std::vector<std::string> names;
  std::string refusal;  // Set instead of calls: the arguments cannot be run, and why.
  std::string notice;   // Set instead of calls: nothing to run, and this is the answer.
};

struct Tool {
  const char* name;
  const char* title;
  const char* description;
  boost::json::object input_schema;  // JSON Schema, draft 2020-12.
  bool read_only = false;
  bool destructive = false;
  bool idempotent = false;
  bool open_world = false;
  ToolPlan (*plan)(const boost::json::object& args);
  // The result holds a webhook secret, shown masked unless reveal_secret is true.
  bool masks_secret = false;
};

// Every tool, in the order tools/list gives them.
const std::vector<Tool>& tools();
// The tool called `name`, or null.
const Tool* find_tool(const std::string& name);

// Checks `args` against `schema` (the subset of JSON Schema the tools use:
// type, required, enum, minimum/maximum, minLength/maxLength, pattern,
// format uri, items). Returns "" or what is wrong, naming the argument.
std::string validate_arguments(const boost::json::object& schema, const boost::json::object& args);

// tools/list's entry for `tool`.
boost::json::object describe(const Tool& tool);

}  // namespace ap::http::mcp
