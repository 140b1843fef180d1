#include "actors/agent.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cmath>
#include <regex>

namespace ap::domain {

namespace {

enum class Kind { kString, kBool, kInt, kNumber, kEnum, kTools, kPhone };

struct FieldSpec {
  const char* name;
  Kind kind;
  bool nullable;  // Response may hold null; a null in a request sets it.
  double min = 0;
  double max = 0;
  std::size_t max_length = 0;
  std::vector<const char*> values = {};
};

const std::vector<const char*>& languages() {
  static const std::vector<const char*> kLanguages = {
      "af-ZA", "ar-SA", "az-AZ",  "bg-BG", "bs-BA", "ca-ES", "cs-CZ", "cy-GB",  "da-DK",
      "de-DE", "el-GR", "en-AU",  "en-GB", "en-IN", "en-NZ", "en-US", "es-419", "es-ES",
      "fa-IR", "fi-FI", "fil-PH", "fr-CA", "fr-FR", "gl-ES", "he-IL", "hi-IN",  "hr-HR",
      "hu-HU", "hy-AM", "id-ID",  "is-IS", "it-IT", "ja-JP", "kk-KZ", "kn-IN",  "ko-KR",
      "lt-LT", "lv-LV", "mk-MK",  "mr-IN", "ms-MY", "ne-NP", "nl-BE", "nl-NL",  "no-NO",
      "pl-PL", "pt-BR", "pt-PT",  "ro-RO", "ru-RU", "sk-SK", "sl-SI", "sr-RS",  "sv-SE",
      "sw-KE", "ta-IN", "th-TH",  "tr-TR", "uk-UA", "ur-IN", "vi-VN", "yue-CN", "zh-CN"};
  return kLanguages;
}

const std::vector<FieldSpec>& field_specs() {
  static const std::vector<FieldSpec> kSpecs = {
      {"name", Kind::kString, false, 0, 0, 200},
      {"description", Kind::kString, true, 0, 0, 2000},
      {"voiceMode", Kind::kEnum, false, 0, 0, 0, {"webhook", "hosted"}},
      {"enableMessaging", Kind::kBool, false},
      {"modelTier", Kind::kEnum, false, 0, 0, 0, {"turbo", "balanced", "max"}},
      {"systemPrompt", Kind::kString, true, 0, 0, 32000},
      {"beginMessage", Kind::kString, true, 0, 0, 2000},
      {"voice", Kind::kString, false, 0, 0, 200},
      {"transferNumber", Kind::kPhone, true},
      {"customTools", Kind::kTools, true},
      {"voicemailMessage", Kind::kString, true, 0, 0, 2000},
      {"callScreeningIdentity", Kind::kString, true, 0, 0, 500},
      {"callScreeningPurpose", Kind::kString, true, 0, 0, 500},
      {"sttMode", Kind::kEnum, false, 0, 0, 0, {"fast", "accurate"}},
      {"ambientSound", Kind::kEnum, false, 0, 0, 0, {"none", "office", "coffee-shop", "outdoor"}},
      {"denoisingMode",
       Kind::kEnum,
       false,
       0,
       0,
       0,
       {"noise-cancellation", "noise-and-background-speech-cancellation"}},
      {"maxSilenceMs", Kind::kInt, false, 10000, 3600000},
      {"voiceSpeed", Kind::kNumber, false, 0.5, 2.0},
      {"interruptionSensitivity", Kind::kNumber, false, 0, 1},
      {"enableBackchannel", Kind::kBool, false},
      {"language", Kind::kEnum, false, 0, 0, 0, languages()},
  };
  return kSpecs;
}

json::object default_config() {
  json::object config;
  config["name"] = "";
  config["description"] = nullptr;
  config["voiceMode"] = "webhook";
  config["enableMessaging"] = true;
  config["modelTier"] = "balanced";
  config["systemPrompt"] = nullptr;
  config["beginMessage"] = nullptr;
  config["voice"] = default_voice_id();
  config["transferNumber"] = nullptr;
  config["customTools"] = nullptr;
  config["voicemailMessage"] = nullptr;
  config["callScreeningIdentity"] = nullptr;
  config["callScreeningPurpose"] = nullptr;
  config["sttMode"] = "fast";
  config["ambientSound"] = "none";
  config["denoisingMode"] = "noise-cancellation";
  config["maxSilenceMs"] = 600000;
  config["voiceSpeed"] = 1.0;
  config["interruptionSensitivity"] = 0.8;
  config["enableBackchannel"] = true;
  config["language"] = "en-US";
  return config;
}

std::string fmt_number(double value) {
  if (value == std::floor(value)) return std::to_string(static_cast<long long>(value));
  std::string text = std::to_string(value);
  while (!text.empty() && text.back() == '0') text.pop_back();
  return text;
}

bool is_e164(const std::string& text) {
  static const std::regex kE164("^\\+[1-9][0-9]{1,14}$");
  return std::regex_match(text, kE164);
}

bool as_double(const json::value& value, double* out) {
  if (value.is_int64())
    *out = static_cast<double>(value.as_int64());
  else if (value.is_uint64())
    *out = static_cast<double>(value.as_uint64());
  else if (value.is_double())
    *out = value.as_double();
  else
    return false;
  return true;
}

// Validates one custom tool (CustomToolParam); appends problems to `errors`.
void check_tool(const json::value& tool, std::size_t index, std::vector<FieldError>& errors,
                std::vector<std::string>& names) {
  const std::string at = "customTools." + std::to_string(index);
  if (!tool.is_object()) {
    errors.push_back({at, "Input should be a valid object", "model_type"});
    return;
  }
  const json::object& t = tool.as_object();
  static const std::regex kName("^[A-Za-z0-9_-]{1,64}$");
  const json::value* name = t.if_contains("name");
  if (name == nullptr || !name->is_string()) {
    errors.push_back({at + ".name", "Field required", "missing"});
  } else {
    const std::string n(name->as_string());
    if (!std::regex_match(n, kName)) {
      errors.push_back({at + ".name", "Tool name must be 1-64 letters, digits, '_' or '-'",
                        "string_pattern_mismatch"});
    } else if (std::find(names.begin(), names.end(), n) != names.end()) {
      errors.push_back({at + ".name", "Tool names must be unique", "value_error"});
    } else if (n == "end_call" || n == "transfer_call" || n == "press_digit") {
      errors.push_back({at + ".name", "'" + n + "' is a reserved built-in tool", "value_error"});
    }
    names.push_back(n);
  }
  const json::value* description = t.if_contains("description");
  if (description == nullptr || !description->is_string()) {
    errors.push_back({at + ".description", "Field required", "missing"});
  }
  const json::value* url = t.if_contains("url");
  if (url == nullptr || !url->is_string()) {
    errors.push_back({at + ".url", "Field required", "missing"});
  } else if (!std::string_view(url->as_string()).starts_with("https://")) {
    errors.push_back({at + ".url", "Tool URL must use https", "value_error"});
  }
  if (const json::value* method = t.if_contains("method");
      method != nullptr && !method->is_null()) {
    if (!method->is_string() || (method->as_string() != "GET" && method->as_string() != "POST")) {
      errors.push_back({at + ".method", "Input should be 'GET' or 'POST'", "enum"});
    }
  }
  if (const json::value* timeout = t.if_contains("timeoutMs");
      timeout != nullptr && !timeout->is_null()) {
    double ms = 0;
    if (!as_double(*timeout, &ms) || ms != std::floor(ms) || ms < 1000 || ms > 120000) {
      errors.push_back(
          {at + ".timeoutMs", "Input should be an integer from 1000 to 120000", "value_error"});
    }
  }
}

// Checks every known field present in `body` and returns the normalized
// changes; unknown fields are ignored, as the hosted API does.
json::object validate_fields(const json::object& body, std::vector<FieldError>& errors) {
  json::object changes;
  for (const FieldSpec& spec : field_specs()) {
    const json::value* value = body.if_contains(spec.name);
    if (value == nullptr) continue;
    if (value->is_null()) {
      // null clears a nullable field and means "not sent" for the others.
      if (spec.nullable) changes[spec.name] = nullptr;
      continue;
    }
    switch (spec.kind) {
      case Kind::kString:
      case Kind::kPhone: {
        if (!value->is_string()) {
          errors.push_back({spec.name, "Input should be a valid string", "string_type"});
          break;
        }
        const std::string text(value->as_string());
        if (spec.kind == Kind::kPhone) {
          if (text.empty()) {
            changes[spec.name] = nullptr;  // "" removes, per the MCP docs.
          } else if (!is_e164(text)) {
            errors.push_back(
                {spec.name, "Phone number must be E.164, e.g. +14155551234", "value_error"});
          } else {
            changes[spec.name] = text;
          }
          break;
        }
        if (std::string_view(spec.name) == "name" && text.empty()) {
          errors.push_back(
              {spec.name, "String should have at least 1 character", "string_too_short"});
        } else if (text.size() > spec.max_length) {
          errors.push_back(
              {spec.name,
               "String should have at most " + std::to_string(spec.max_length) + " characters",
               "string_too_long"});
        } else if (std::string_view(spec.name) == "voicemailMessage" && text.empty()) {
          changes[spec.name] = nullptr;
        } else {
          changes[spec.name] = text;
        }
        break;
      }
      case Kind::kBool:
        if (!value->is_bool()) {
          errors.push_back({spec.name, "Input should be a valid boolean", "bool_type"});
        } else {
          changes[spec.name] = value->as_bool();
        }
        break;
      case Kind::kInt:
      case Kind::kNumber: {
        double number = 0;
        if (!as_double(*value, &number)) {
          errors.push_back({spec.name,
                            spec.kind == Kind::kInt ? "Input should be a valid integer"
                                                    : "Input should be a valid number",
                            spec.kind == Kind::kInt ? "int_type" : "float_type"});
        } else if (spec.kind == Kind::kInt && number != std::floor(number)) {
          errors.push_back({spec.name,
                            "Input should be a valid integer, got a number with a "
                            "fractional part",
                            "int_from_float"});
        } else if (number < spec.min) {
          errors.push_back({spec.name,
                            "Input should be greater than or equal to " + fmt_number(spec.min),
                            "greater_than_equal"});
        } else if (number > spec.max) {
          errors.push_back({spec.name,
                            "Input should be less than or equal to " + fmt_number(spec.max),
                            "less_than_equal"});
        } else if (spec.kind == Kind::kInt) {
          changes[spec.name] = static_cast<std::int64_t>(number);
        } else {
          changes[spec.name] = number;
        }
        break;
      }
      case Kind::kEnum: {
        const bool ok = value->is_string() &&
                        std::any_of(spec.values.begin(), spec.values.end(),
                                    [&](const char* v) { return value->as_string() == v; });
        if (!ok) {
          std::string allowed;
          for (std::size_t i = 0; i < spec.values.size() && i < 8; ++i) {
            if (i > 0) allowed += i + 1 == spec.values.size() ? " or " : ", ";
            allowed += "'" + std::string(spec.values[i]) + "'";
          }
          if (spec.values.size() > 8) allowed += ", ... (see the documentation)";
          errors.push_back({spec.name, "Input should be " + allowed, "enum"});
        } else {
          changes[spec.name] = value->as_string();
        }
        break;
      }
      case Kind::kTools: {
        if (!value->is_array()) {
          errors.push_back({spec.name, "Input should be a valid list", "list_type"});
          break;
        }
        const json::array& tools = value->as_array();
        if (tools.size() > 20) {
          errors.push_back({spec.name, "List should have at most 20 items", "too_long"});
          break;
        }
        std::vector<std::string> names;
        const std::size_t before = errors.size();
        for (std::size_t i = 0; i < tools.size(); ++i) check_tool(tools[i], i, errors, names);
        if (errors.size() == before) changes[spec.name] = tools;
        break;
      }
    }
  }
  return changes;
}

bool voice_exists(std::string_view id) {
  for (const json::value& voice : voice_catalogue()) {
    if (field(voice.as_object(), "voice_id").as_string() == id) return true;
  }
  return false;
}

// Rules that involve several fields, checked on the merged configuration.
void check_merged(const json::object& merged, std::vector<FieldError>& errors) {
  const bool hosted = field(merged, "voiceMode").as_string() == "hosted";
  const json::value& prompt = field(merged, "systemPrompt");
  if (hosted && (!prompt.is_string() || prompt.as_string().empty())) {
    errors.push_back(
        {"systemPrompt", "systemPrompt is required when voiceMode is 'hosted'", "missing"});
  }
  const json::value& tools = field(merged, "customTools");
  if (!hosted && tools.is_array() && !tools.as_array().empty()) {
    errors.push_back({"customTools", "customTools are only available when voiceMode is 'hosted'",
                      "value_error"});
  }
  if (!voice_exists(field(merged, "voice").as_string())) {
    errors.push_back({"voice",
                      "Unknown voice '" + std::string(field(merged, "voice").as_string()) +
                          "'; GET /v1/agents/voices lists the available voices",
                      "value_error"});
  }
}

}  // namespace

const json::array& voice_catalogue() {
  static const json::array kVoices = [] {
    struct V {
      const char *id, *name, *provider, *gender, *accent;
    };
    const V voices[] = {
        {"custom_voice_ea22ba5fdfaa18f39c274851c1", "Skylar — Friendly Guide", "elevenlabs",
         "female", "American"},
        {"11labs-Brian", "Brian", "elevenlabs", "male", "American"},
        {"11labs-Adrian", "Adrian", "elevenlabs", "male", "American"},
        {"11labs-Jenny", "Jenny", "elevenlabs", "female", "American"},
        {"openai-Alloy", "Alloy", "openai", "neutral", "American"},
        {"openai-Nova", "Nova", "openai", "female", "American"},
        {"Polly.Amy", "Amy", "polly", "female", "British"},
        {"Polly.Matthew", "Matthew", "polly", "male", "American"},
    };
    json::array out;
    for (const V& v : voices) {
      out.push_back(json::object{{"voice_id", v.id},
                                 {"voice_name", v.name},
                                 {"provider", v.provider},
                                 {"gender", v.gender},
                                 {"accent", v.accent},
                                 {"preview_audio_url", nullptr}});
    }
    return out;
  }();
  return kVoices;
}

const char* default_voice_id() {
  return "custom_voice_ea22ba5fdfaa18f39c274851c1";
}

Decision decide_agent(const AgentState& state, const Command& command, const Context& context) {
  if (command.type == "agent.create") {
    if (state.exists) {
      return make_error(ErrorKind::kConflict, "CONFLICT", "Agent " + state.id + " already exists");
    }
    std::vector<FieldError> errors;
    const json::value* name = command.args.if_contains("name");
    if (name == nullptr || name->is_null()) errors.push_back({"name", "Field required", "missing"});
    json::object changes = validate_fields(command.args, errors);
    json::object config = default_config();
    for (auto& [key, value] : changes) config[key] = value;
    if (errors.empty()) check_merged(config, errors);
    if (!errors.empty()) return validation_error(std::move(errors));
    return std::vector<Event>{Event{"agent.created",
                                    {{"agentId", state.id},
                                     {"accountId", command.account_id},
                                     {"createdAtMs", context.now_ms},
                                     {"config", std::move(config)}}}};
  }

  if (!state.exists || state.deleted || state.account_id != command.account_id) {
    return not_found("Agent not found");
  }
  if (command.type == "agent.update") {
    std::vector<FieldError> errors;
    json::object changes = validate_fields(command.args, errors);
    json::object merged = state.config;
    for (auto& [key, value] : changes) merged[key] = value;
    if (errors.empty()) check_merged(merged, errors);
    if (!errors.empty()) return validation_error(std::move(errors));
    // Only fields whose value actually changes are recorded.
    json::object effective;
    for (auto& [key, value] : changes) {
      const json::value* now = state.config.if_contains(key);
      if (now == nullptr || *now != value) effective[key] = value;
    }
    std::vector<Event> events;
    if (effective.empty()) return events;
    const json::value* mode = effective.if_contains("voiceMode");
    events.push_back(
        Event{"agent.updated",
              {{"agentId", state.id}, {"accountId", state.account_id}, {"changes", effective}}});
    if (mode != nullptr) {
      // The voice layer re-provisions infrastructure and rebinds numbers on this.
      events.push_back(Event{"agent.voice_mode_changed",
                             {{"agentId", state.id},
                              {"accountId", state.account_id},
                              {"from", field(state.config, "voiceMode")},
                              {"to", *mode}}});
    }
    return events;
  }
  if (command.type == "agent.delete") {
    return std::vector<Event>{Event{"agent.deleted",
                                    {{"agentId", state.id},
                                     {"accountId", state.account_id},
                                     {"name", field(state.config, "name")}}}};
  }
  return unknown_command(command.type);
}

void evolve_agent(AgentState& state, const std::string& type, const json::object& data) {
  if (type == "agent.created") {
    state.exists = true;
    state.account_id = std::string(field(data, "accountId").as_string());
    state.config = field(data, "config").as_object();
    if (const json::value* at = data.if_contains("createdAtMs"))
      state.created_at_ms = at->as_int64();
  } else if (type == "agent.updated") {
    for (const auto& [key, value] : field(data, "changes").as_object()) state.config[key] = value;
  } else if (type == "agent.deleted") {
    state.deleted = true;
  }
}

json::object agent_to_wire(const AgentState& state) {
  json::object out;
  out["id"] = state.id;
  for (const auto& [key, value] : state.config) out[key] = value;
  out["createdAt"] = iso8601(state.created_at_ms);
  return out;
}

}  // namespace ap::domain
