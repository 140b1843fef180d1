// The official MCP client SDK (@modelcontextprotocol/sdk, pinned in
// package.json) against our server's Streamable HTTP endpoint /mcp:
// initialize, tools/list (every tool with a valid input schema), a call of
// the tools whose effect REST can confirm, bad input, and sessions bound to
// the key that opened them.
//
// Run through ctest (tests/node_suite.sh), or: AGENTPHONE_BIN=/path/to/agentphone node --test mcp_compat.test.mjs

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const BIN = process.env.AGENTPHONE_BIN;
if (!BIN) throw new Error("set AGENTPHONE_BIN to the path of the agentphone binary");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function createAccount(dataDir, email) {
  const out = execFileSync(BIN, ["admin", "--data-dir", dataDir, "create-account", "--email", email], {
    encoding: "utf8",
    timeout: 20_000,
  });
  const key = /api_key=(\S+)/.exec(out)?.[1];
  assert.match(key ?? "", /^sk_live_/, `admin output: ${out}`);
  return key;
}

async function startServer(dataDir, portFile) {
  const proc = spawn(BIN, ["serve", "--data-dir", dataDir, "--port", "0", "--port-file", portFile], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  const deadline = Date.now() + 15_000;
  let port = "";
  while (Date.now() < deadline) {
    if (existsSync(portFile)) {
      port = readFileSync(portFile, "utf8").trim();
      if (/^\d+$/.test(port) && Number(port) > 0) break;
    }
    await sleep(50);
  }
  assert.ok(Number(port) > 0, `server did not start; log:\n${log}`);
  return { proc, base: `http://127.0.0.1:${port}`, log: () => log };
}

async function connect(base, key) {
  const client = new Client({ name: "mcp-compat-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

// The JSON a tool answered with (its one text content).
function body(result) {
  assert.ok(Array.isArray(result.content) && result.content[0]?.type === "text", JSON.stringify(result));
  return JSON.parse(result.content[0].text);
}

async function rest(base, key, method, path, payload) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

describe("official MCP client against /mcp", { timeout: 60_000 }, () => {
  let tmp, srv, alice, bob, session;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "agentphone-mcp-"));
    const dataDir = join(tmp, "data");
    alice = createAccount(dataDir, "alice@example.com");
    bob = createAccount(dataDir, "bob@example.com");
    srv = await startServer(dataDir, join(tmp, "port"));
    session = await connect(srv.base, alice);
  });

  after(async () => {
    await session?.client.close().catch(() => {});
    srv?.proc.kill("SIGKILL");
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("initializes with a session and lists every tool with a valid schema", async () => {
    assert.match(session.transport.sessionId ?? "", /^[0-9a-f]{32}$/);
    assert.equal(session.client.getServerVersion()?.name, "agentphone");
    const { tools } = await session.client.listTools();
    const names = tools.map((t) => t.name);
    for (const expected of [
      "account_overview", "list_numbers", "buy_number", "send_message", "get_messages", "list_calls",
      "get_call", "make_call", "make_conversation_call", "list_agents", "create_agent", "update_agent",
      "delete_agent", "get_agent", "attach_number", "detach_number", "list_voices", "list_conversations",
      "get_conversation", "update_conversation", "list_contacts", "manage_contact", "get_usage",
      "get_webhook", "set_webhook", "delete_webhook", "test_webhook", "list_webhook_deliveries",
    ]) {
      assert.ok(names.includes(expected), `tools/list lacks ${expected}`);
    }
    assert.equal(tools.length, 28);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, "object", t.name);
      assert.equal(typeof t.inputSchema.properties, "object", t.name);
      assert.equal(typeof t.annotations?.readOnlyHint, "boolean", t.name);
      assert.ok(t.title, t.name);
    }
    const buy = tools.find((t) => t.name === "buy_number");
    assert.equal(buy.annotations.openWorldHint, true);
    assert.equal(buy.inputSchema.properties.confirm.default, false);
    const manage = tools.find((t) => t.name === "manage_contact");
    assert.equal(manage.annotations.destructiveHint, true);
    assert.deepEqual(manage.inputSchema.properties.action.enum, ["create", "update", "delete"]);
    assert.equal(tools.find((t) => t.name === "list_contacts").inputSchema.properties.limit.default, 50);
  });

  it("keeps the address book through manage_contact and list_contacts", async () => {
    const c = session.client;
    const ada = body(
      await c.callTool({
        name: "manage_contact",
        arguments: { action: "create", phone_number: "+14155552671", name: "Ada", email: "ada@example.com" },
      }),
    );
    assert.match(ada.id, /^contact_/);
    assert.equal((await rest(srv.base, alice, "GET", `/v1/contacts/${ada.id}`)).json.name, "Ada");
    const dup = await c.callTool({
      name: "manage_contact",
      arguments: { action: "create", phone_number: "+14155552671", name: "Eve" },
    });
    assert.equal(dup.isError, true);
    assert.match(dup.content[0].text, /HTTP 409/);
    const noName = await c.callTool({ name: "manage_contact", arguments: { action: "create", phone_number: "+14155550000" } });
    assert.equal(noName.isError, true);
    assert.match(noName.content[0].text, /name/);
    const badPhone = await c.callTool({ name: "manage_contact", arguments: { action: "create", phone_number: "415", name: "X" } });
    assert.equal(badPhone.isError, true);
    const renamed = body(
      await c.callTool({ name: "manage_contact", arguments: { action: "update", contact_id: ada.id, notes: "analyst" } }),
    );
    assert.equal(renamed.notes, "analyst");
    const found = body(await c.callTool({ name: "list_contacts", arguments: { search: "ADA" } }));
    assert.equal(found.total, 1);
    assert.equal(found.data[0].id, ada.id);
    const deleted = body(await c.callTool({ name: "manage_contact", arguments: { action: "delete", contact_id: ada.id } }));
    assert.deepEqual(deleted, { success: true });
    assert.equal((await rest(srv.base, alice, "GET", `/v1/contacts/${ada.id}`)).status, 404);
    assert.equal(body(await c.callTool({ name: "list_contacts", arguments: {} })).total, 0);
  });

  it("runs an agent's phone life through tools, each effect visible through REST", async () => {
    const c = session.client;
    const agent = body(await c.callTool({ name: "create_agent", arguments: { name: "Desk", max_silence_ms: 20000 } }));
    assert.match(agent.id, /^agt_/);
    assert.equal(agent.maxSilenceMs, 20000);
    assert.equal((await rest(srv.base, alice, "GET", `/v1/agents/${agent.id}`)).status, 200);

    const unconfirmed = await c.callTool({ name: "buy_number", arguments: { area_code: "415" } });
    assert.notEqual(unconfirmed.isError, true);
    assert.match(unconfirmed.content[0].text, /confirm: true/);
    assert.equal((await rest(srv.base, alice, "GET", "/v1/numbers")).json.total, 0, "nothing bought");
    const number = body(
      await c.callTool({ name: "buy_number", arguments: { area_code: "415", agent_id: agent.id, confirm: true } }),
    );
    assert.match(number.phoneNumber, /^\+1415/);

    const sent = body(
      await c.callTool({
        name: "send_message",
        arguments: { number_id: number.id, to_number: "+14155550123", body: "hello from MCP" },
      }),
    );
    assert.ok(sent.id);
    const conversations = (await rest(srv.base, alice, "GET", "/v1/conversations")).json;
    assert.equal(conversations.data.length, 1);
    const conversation = body(
      await c.callTool({ name: "get_conversation", arguments: { conversation_id: conversations.data[0].id } }),
    );
    assert.ok(JSON.stringify(conversation).includes("hello from MCP"));
    const updated = body(
      await c.callTool({
        name: "update_conversation",
        arguments: { conversation_id: conversations.data[0].id, metadata: { ticket: "T-1" } },
      }),
    );
    assert.deepEqual(updated.metadata, { ticket: "T-1" });

    const hook = body(await c.callTool({ name: "set_webhook", arguments: { url: "https://example.com/hook" } }));
    assert.equal(hook.url, "https://example.com/hook");
    assert.equal(hook.secret, "whsec_\u2022\u2022\u2022\u2022\u2022\u2022", "the secret is masked");
    const revealed = body(await c.callTool({ name: "get_webhook", arguments: { reveal_secret: true } }));
    assert.match(revealed.secret, /^whsec_[0-9a-zA-Z]+$/);
    assert.equal((await rest(srv.base, alice, "GET", "/v1/webhooks")).json.url, "https://example.com/hook");

    const overview = body(await c.callTool({ name: "account_overview", arguments: {} }));
    assert.equal(overview.agents.total, 1);
    assert.equal(overview.numbers.total, 1);
    assert.equal(overview.usage.plan.name, "payg");
    const usage = body(await c.callTool({ name: "get_usage", arguments: { breakdown: "daily", days: 7 } }));
    assert.equal(usage.data.length, 7);

    const renamed = body(await c.callTool({ name: "update_agent", arguments: { agent_id: agent.id, name: "Front desk" } }));
    assert.equal(renamed.name, "Front desk");
    body(await c.callTool({ name: "detach_number", arguments: { agent_id: agent.id, number_id: number.id } }));
    body(await c.callTool({ name: "delete_agent", arguments: { agent_id: agent.id } }));
    assert.equal((await rest(srv.base, alice, "GET", `/v1/agents/${agent.id}`)).status, 404);
  });

  it("answers bad input with isError results or JSON-RPC errors, never a dropped stream", async () => {
    const c = session.client;
    const wrongType = await c.callTool({ name: "list_agents", arguments: { limit: "ten" } });
    assert.equal(wrongType.isError, true);
    assert.match(wrongType.content[0].text, /limit must be number/);
    const outOfRange = await c.callTool({ name: "get_usage", arguments: { days: 400 } });
    assert.equal(outOfRange.isError, true);
    const missing = await c.callTool({ name: "get_agent", arguments: {} });
    assert.equal(missing.isError, true);
    assert.match(missing.content[0].text, /agent_id/);
    await assert.rejects(c.callTool({ name: "no_such_tool", arguments: {} }), /Unknown tool/);
    // Another account's id is not found, as over REST.
    const bobsAgent = (await rest(srv.base, bob, "POST", "/v1/agents", { name: "Bob's" })).json;
    const foreign = await c.callTool({ name: "get_agent", arguments: { agent_id: bobsAgent.id } });
    assert.equal(foreign.isError, true);
    assert.match(foreign.content[0].text, /HTTP 404/);
    // The session still works.
    assert.ok((await c.listTools()).tools.length >= 26);
  });

  it("refuses a missing key and a session used with another key", async () => {
    const noKey = await fetch(`${srv.base}/mcp`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(noKey.status, 401);
    assert.match(noKey.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal((await noKey.json()).error.code, -32000);

    const stolen = await fetch(`${srv.base}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${bob}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": session.transport.sessionId,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(stolen.status, 403);

    const card = await fetch(`${srv.base}/.well-known/mcp/server-card.json`);
    assert.equal(card.status, 200);
    assert.equal((await card.json()).transport.endpoint, "/mcp");
  });

  it("speaks the transport: batches, notifications, SSE answers and the idle stream", async () => {
    const post = (payload, accept = "application/json, text/event-stream") =>
      fetch(`${srv.base}/mcp`, {
        method: "POST",
        headers: { Authorization: `Bearer ${alice}`, "Content-Type": "application/json", Accept: accept },
        body: typeof payload === "string" ? payload : JSON.stringify(payload),
      });
    const batch = await post([
      { jsonrpc: "2.0", id: "a", method: "ping" },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "list_voices", arguments: {} } },
      { jsonrpc: "2.0", id: 8, method: "resources/list" },
    ]);
    assert.equal(batch.status, 200);
    const answers = await batch.json();
    assert.deepEqual(answers.map((a) => a.id), ["a", 7, 8]);
    assert.deepEqual(answers[0].result, {});
    assert.ok(Array.isArray(JSON.parse(answers[1].result.content[0].text).data ?? JSON.parse(answers[1].result.content[0].text)));
    assert.equal(answers[2].error.code, -32601);

    assert.equal((await post({ jsonrpc: "2.0", method: "notifications/initialized" })).status, 202);
    const parse = await post("{not json");
    assert.equal(parse.status, 400);
    assert.equal((await parse.json()).error.code, -32700);

    const events = await post({ jsonrpc: "2.0", id: 9, method: "ping" }, "text/event-stream");
    assert.match(events.headers.get("content-type"), /^text\/event-stream/);
    const text = await events.text();
    assert.match(text, /^event: message\ndata: \{.*"id":9.*\}\n\n$/s);

    const controller = new AbortController();
    const idle = await fetch(`${srv.base}/mcp`, {
      headers: { Authorization: `Bearer ${alice}`, Accept: "text/event-stream" },
      signal: controller.signal,
    });
    assert.equal(idle.status, 200);
    const reader = idle.body.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^: connected/);
    controller.abort();
    assert.equal((await fetch(`${srv.base}/mcp`, { method: "PUT", headers: { Authorization: `Bearer ${alice}` } })).status, 405);
  });

  it("set_webhook then test_webhook: a signed test delivery arrives, and the log shows it", async () => {
    const received = [];
    const receiver = createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, raw: Buffer.concat(chunks) });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
    try {
      const c = session.client;
      const url = `http://127.0.0.1:${receiver.address().port}/hook`;
      const hook = body(await c.callTool({ name: "set_webhook", arguments: { url, reveal_secret: true } }));
      assert.match(hook.secret, /^whsec_/);
      const tested = await c.callTool({ name: "test_webhook", arguments: {} });
      assert.notEqual(tested.isError, true, JSON.stringify(tested));
      for (let i = 0; i < 100 && received.length === 0; i++) await sleep(50);
      assert.equal(received.length, 1, "one test delivery");
      const { headers, raw } = received[0];
      const mac = createHmac("sha256", hook.secret)
        .update(`${headers["x-webhook-timestamp"]}.`, "utf8")
        .update(raw)
        .digest("hex");
      const want = Buffer.from(`sha256=${mac}`);
      const got = Buffer.from(headers["x-webhook-signature"] ?? "");
      assert.ok(got.length === want.length && timingSafeEqual(got, want), "the signature verifies");
      const deliveries = body(await c.callTool({ name: "list_webhook_deliveries", arguments: { limit: 5 } }));
      assert.ok(JSON.stringify(deliveries).includes('"test":true'), JSON.stringify(deliveries));
      body(await c.callTool({ name: "delete_webhook", arguments: {} }));
      assert.equal((await rest(srv.base, alice, "GET", "/v1/webhooks")).json, null, "no webhook left");
    } finally {
      await new Promise((r) => {
        receiver.close(() => r());
        receiver.closeAllConnections();
      });
    }
  });

  it("serves stdio clients through `agentphone mcp --stdio`", async () => {
    const client = new Client({ name: "mcp-compat-stdio", version: "1.0.0" });
    const transport = new StdioClientTransport({
      command: BIN,
      args: ["mcp", "--stdio", "--url", srv.base],
      env: { AGENTPHONE_API_KEY: bob },
    });
    await client.connect(transport);
    try {
      assert.equal(client.getServerVersion()?.name, "agentphone");
      assert.ok((await client.listTools()).tools.some((t) => t.name === "send_message"));
      const agents = body(await client.callTool({ name: "list_agents", arguments: {} }));
      assert.deepEqual(agents.data.map((a) => a.name), ["Bob's"]);
      const bad = await client.callTool({ name: "get_call", arguments: { call_id: "call_nope" } });
      assert.equal(bad.isError, true);
    } finally {
      await client.close();
    }
  });

  it("serves from a data folder itself with `agentphone mcp --stdio --data-dir`", async () => {
    const folder = join(tmp, "own");
    const key = createAccount(folder, "carol@example.com");
    const client = new Client({ name: "mcp-compat-local", version: "1.0.0" });
    const transport = new StdioClientTransport({
      command: BIN,
      args: ["mcp", "--stdio", "--data-dir", folder],
      env: { AGENTPHONE_API_KEY: key },
      stderr: "ignore",
    });
    await client.connect(transport);
    try {
      const made = body(await client.callTool({ name: "create_agent", arguments: { name: "Local" } }));
      const listed = body(await client.callTool({ name: "list_agents", arguments: {} }));
      assert.deepEqual(listed.data.map((a) => a.id), [made.id]);
    } finally {
      await client.close();
    }
    // The server stops with the client: the folder is free again.
    for (let i = 0; i < 100; i++) {
      try {
        const out = execFileSync(BIN, ["admin", "--data-dir", folder, "create-account", "--email", "dave@example.com"], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        });
        assert.match(out, /api_key=/);
        break;
      } catch (e) {
        if (i === 99) throw e;
        await sleep(100);
      }
    }
  });

  it("ends a session on DELETE", async () => {
    const other = await connect(srv.base, bob);
    const id = other.transport.sessionId;
    await other.transport.terminateSession();
    const after = await fetch(`${srv.base}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${bob}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": id,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(after.status, 404);
    await other.client.close().catch(() => {});
  });
});
