// Compatibility test: drives our server with the official AgentPhone Node SDK
// (npm package `agentphone`, pinned in package.json) and checks that every
// agents/numbers/messages/conversations/webhooks/calls SDK method we
// implement round-trips and parses.
//
// Run through ctest (tests/node_suite.sh), or: AGENTPHONE_BIN=/path/to/agentphone node --test sdk_compat.test.mjs

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { AgentPhoneClient, AgentPhoneError, AgentPhone } from "agentphone";

const BIN = process.env.AGENTPHONE_BIN;
if (!BIN) {
  throw new Error("set AGENTPHONE_BIN to the path of the agentphone binary");
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const E164_US_RE = /^\+1\d{10}$/;
const CAMEL_RE = /^[a-z][a-zA-Z0-9]*$/;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function createAccount(dataDir, email) {
  const out = execFileSync(BIN, ["admin", "--data-dir", dataDir, "create-account", "--email", email], {
    encoding: "utf8",
    timeout: 20_000,
  });
  const kv = Object.fromEntries(
    out
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => {
        const i = l.indexOf("=");
        return [l.slice(0, i).trim(), l.slice(i + 1).trim()];
      }),
  );
  assert.match(kv.account_id ?? "", /^acct_/, `admin output: ${out}`);
  assert.match(kv.api_key ?? "", /^sk_live_/, `admin output: ${out}`);
  return { accountId: kv.account_id, apiKey: kv.api_key };
}

function assertIso(value, what) {
  assert.equal(typeof value, "string", `${what} should be a string`);
  assert.match(value, ISO_RE, `${what} should be ISO-8601: ${value}`);
  assert.ok(!Number.isNaN(Date.parse(value)), `${what} should parse as a date: ${value}`);
}

function assertCamelKeys(obj, what) {
  for (const k of Object.keys(obj)) {
    assert.match(k, CAMEL_RE, `${what}: key ${k} should be camelCase`);
  }
}

function assertAgentShape(a) {
  assert.equal(typeof a, "object");
  assertCamelKeys(a, "agent");
  assert.match(a.id, /^agt_/);
  assert.equal(typeof a.name, "string");
  assert.ok(a.description === null || typeof a.description === "string", "description string|null");
  assert.ok(["webhook", "hosted"].includes(a.voiceMode), `voiceMode ${a.voiceMode}`);
  assert.equal(typeof a.voice, "string");
  assertIso(a.createdAt, "agent.createdAt");
  if (a.numbers != null) {
    assert.ok(Array.isArray(a.numbers), "agent.numbers should be an array");
    for (const n of a.numbers) assertAgentNumberShape(n);
  }
}

function assertAgentNumberShape(n) {
  assertCamelKeys(n, "agent number");
  assert.match(n.id, /^num_/);
  assert.match(n.phoneNumber, E164_US_RE);
  assert.equal(typeof n.status, "string");
  if (n.type !== undefined) assert.equal(typeof n.type, "string");
}

function assertNumberShape(n) {
  assert.equal(typeof n, "object");
  assertCamelKeys(n, "number");
  assert.match(n.id, /^num_/);
  assert.match(n.phoneNumber, E164_US_RE);
  assert.equal(typeof n.country, "string");
  assert.equal(typeof n.status, "string");
  if (n.type !== undefined) assert.equal(typeof n.type, "string");
  assert.ok(n.agentId === undefined || n.agentId === null || /^agt_/.test(n.agentId), `agentId ${n.agentId}`);
  assertIso(n.createdAt, "number.createdAt");
}

// Awaits `promise` and checks it rejects with an AgentPhoneError of `status`.
async function expectSdkError(promise, status, ErrorClass = AgentPhoneError) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected the SDK to throw (HTTP ${status})`);
  assert.ok(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.ok(err instanceof AgentPhoneError, "every SDK HTTP error is an AgentPhoneError");
  assert.equal(err.statusCode, status, `status code; message: ${err.message}`);
  assert.equal(err.rawResponse?.status, status);
  return err;
}

const SEND_KEYS = [
  "id",
  "status",
  "channel",
  "from_number",
  "to_number",
  "conversation_id",
  "media_urls",
  "reply_to_message_id",
  "reply_parent_unresolved",
];

// SendMessageResponse: snake_case, unlike the rest of the API.
function assertSendShape(r) {
  assert.equal(typeof r, "object");
  for (const k of SEND_KEYS) assert.ok(k in r, `send response has ${k}: ${JSON.stringify(r)}`);
  assert.match(r.id, /^msg_/);
  assert.equal(r.status, "queued");
  // The server reports a send with media as "mms".
  assert.ok(["sms", "mms"].includes(r.channel), `channel ${r.channel}`);
  assert.match(r.from_number, E164_US_RE);
  assert.match(r.to_number, E164_US_RE);
  assert.match(r.conversation_id, /^conv_/);
  assert.ok(Array.isArray(r.media_urls), "media_urls is an array");
  for (const u of r.media_urls) assert.equal(typeof u, "string");
  assert.equal(r.reply_to_message_id, null);
  assert.equal(r.reply_parent_unresolved, null);
}

// The fields shared by AppRoutesConversationsConversationSummary,
// AppRoutesAgentsConversationSummary and ConversationDetail.
function assertConversationCore(c, what) {
  assert.equal(typeof c, "object");
  assertCamelKeys(c, what);
  assert.match(c.id, /^conv_/);
  assert.ok(c.agentId === undefined || c.agentId === null || /^agt_/.test(c.agentId), `${what}.agentId ${c.agentId}`);
  assert.match(c.phoneNumberId, /^num_/);
  assert.match(c.phoneNumber, E164_US_RE);
  assert.match(c.participant, E164_US_RE);
  assertIso(c.lastMessageAt, `${what}.lastMessageAt`);
  assertIso(c.createdAt, `${what}.createdAt`);
  assert.ok(Date.parse(c.lastMessageAt) >= Date.parse(c.createdAt), `${what}: lastMessageAt >= createdAt`);
  assert.ok(Number.isInteger(c.messageCount) && c.messageCount >= 0, `${what}.messageCount ${c.messageCount}`);
  if (c.isGroup !== undefined) assert.equal(c.isGroup, false, "SMS conversations are not groups");
  for (const k of ["groupId", "groupName", "groupIconUrl", "participants"]) {
    assert.ok(c[k] === undefined || c[k] === null, `${what}.${k} is absent or null for 1:1 SMS`);
  }
  if (c.metadata !== undefined && c.metadata !== null) {
    assert.equal(typeof c.metadata, "object");
    assert.ok(!Array.isArray(c.metadata), `${what}.metadata is an object`);
  }
}

function assertConversationSummaryShape(c, what = "conversation summary") {
  assertConversationCore(c, what);
  assert.equal(typeof c.lastMessagePreview, "string");
}

function assertConversationDetailShape(c) {
  assertConversationCore(c, "conversation detail");
  assert.ok(!("lastMessagePreview" in c), "ConversationDetail has no lastMessagePreview");
  assert.ok(Array.isArray(c.messages), "ConversationDetail.messages is an array");
  for (const m of c.messages) assertConversationMessageShape(m);
}

// MessageInConversation (conversation detail and conversation messages).
function assertConversationMessageShape(m) {
  assert.equal(typeof m, "object");
  assertCamelKeys(m, "conversation message");
  assert.match(m.id, /^msg_/);
  assert.equal(typeof m.body, "string");
  assert.match(m.fromNumber, E164_US_RE);
  assert.match(m.toNumber, E164_US_RE);
  assert.ok(["inbound", "outbound"].includes(m.direction), `direction ${m.direction}`);
  assert.ok(m.channel === undefined || m.channel === null || ["sms", "mms"].includes(m.channel), `channel ${m.channel}`);
  if (m.senderIdentifier != null) assert.equal(typeof m.senderIdentifier, "string");
  if (m.mediaUrl != null) assert.equal(typeof m.mediaUrl, "string");
  if (m.mediaUrls !== undefined) {
    assert.ok(Array.isArray(m.mediaUrls));
    for (const u of m.mediaUrls) assert.equal(typeof u, "string");
  }
  assertIso(m.receivedAt, "message.receivedAt");
  if (m.reactions !== undefined) assert.ok(Array.isArray(m.reactions));
  assert.ok(m.replyTo === undefined || m.replyTo === null || typeof m.replyTo === "object");
}

// MessageResponse (GET /v1/numbers/{id}/messages): the spec names the sender
// `from_`; the server also sends `from`.
function assertNumberMessageShape(m) {
  assert.equal(typeof m, "object");
  assert.match(m.id, /^msg_/);
  assert.match(m.from_, E164_US_RE);
  assert.equal(m.from, m.from_, "`from` and `from_` carry the same sender");
  assert.match(m.to, E164_US_RE);
  assert.equal(typeof m.body, "string");
  assert.ok(["inbound", "outbound"].includes(m.direction), `direction ${m.direction}`);
  assert.ok(m.channel === undefined || m.channel === null || ["sms", "mms"].includes(m.channel), `channel ${m.channel}`);
  assertIso(m.receivedAt, "message.receivedAt");
}

// Pages through a newest-first message list with `limit` and a `before`
// cursor (the oldest receivedAt seen so far); returns every item in order.
async function pageWithBefore(fetchPage, limit, expectedTotal) {
  const all = [];
  let before;
  for (let guard = 0; guard < 50; ++guard) {
    const page = await fetchPage({ limit, ...(before ? { before } : {}) });
    assert.ok(Array.isArray(page.data));
    assert.equal(typeof page.hasMore, "boolean");
    assert.ok(page.data.length <= limit, `page of at most ${limit}`);
    all.push(...page.data);
    assert.equal(page.hasMore, all.length < expectedTotal, `hasMore after ${all.length} of ${expectedTotal}`);
    if (!page.hasMore) return all;
    before = page.data[page.data.length - 1].receivedAt;
  }
  assert.fail("cursor pagination did not terminate");
}

// Awaits an SDK call expected to fail with a FastAPI-style 422 naming `field`.
async function expect422On(promise, field) {
  const err = await expectSdkError(promise, 422, AgentPhone.UnprocessableEntityError);
  assert.ok(Array.isArray(err.body?.detail), `422 body is {detail: [...]}: ${JSON.stringify(err.body)}`);
  assert.ok(
    err.body.detail.some((d) => Array.isArray(d.loc) && d.loc.includes(field)),
    `a detail points at ${field}: ${JSON.stringify(err.body.detail)}`,
  );
  return err;
}

// Checks the {detail, error: {message, code, type}} body of a non-422 error.
function assertErrorBody(err) {
  assert.equal(typeof err.body?.detail, "string", `error body has a detail string: ${JSON.stringify(err.body)}`);
  assert.equal(typeof err.body?.error?.message, "string");
  assert.equal(typeof err.body?.error?.code, "string");
  assert.equal(typeof err.body?.error?.type, "string");
}

// Starts `agentphone serve` over dataDir on an ephemeral port and waits for
// the port file; extraArgs are appended to the command line. Returns
// { proc, baseUrl, log() }.
async function startServer(dataDir, portFile, extraArgs = []) {
  const proc = spawn(BIN, ["serve", "--data-dir", dataDir, "--port", "0", "--port-file", portFile, ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  let exited = false;
  proc.on("exit", () => (exited = true));

  let port = "";
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !exited) {
    if (existsSync(portFile)) {
      port = readFileSync(portFile, "utf8").trim();
      if (/^\d+$/.test(port) && Number(port) > 0) break;
    }
    await sleep(50);
  }
  assert.ok(/^\d+$/.test(port) && Number(port) > 0, `server did not write its port; log:\n${log}`);
  return { proc, baseUrl: `http://127.0.0.1:${port}`, log: () => log };
}

// Stops a server from startServer with SIGTERM and checks it exits cleanly.
async function stopServer(srv) {
  const server = srv?.proc;
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const done = new Promise((r) => server.once("exit", (code, signal) => r([code, signal])));
  server.kill("SIGTERM");
  // Escalate to SIGKILL if it has not stopped in 10 s; unref'd so the
  // timer never keeps the test process alive after a prompt exit.
  const killer = setTimeout(() => server.kill("SIGKILL"), 10_000);
  killer.unref();
  const [code, signal] = await done;
  clearTimeout(killer);
  assert.equal(signal, null, `server should stop on SIGTERM by itself; log:\n${srv.log()}`);
  assert.equal(code, 0, `server exit code after SIGTERM; log:\n${srv.log()}`);
}

describe("official agentphone SDK against our server", { timeout: 55_000 }, () => {
  let tmp;
  let srv; // from startServer
  let baseUrl;
  let acctA;
  let acctB;
  let client; // account A
  let clientB; // account B

  // State shared by the ordered tests below.
  let voices;
  let agent1; // hosted agent with many fields set
  let agent2; // minimal agent (defaults)
  let num1; // account A's number, provisioned with areaCode 415
  let agentB; // account B's agent
  let numB; // account B's number, provisioned attached to agentB

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "agentphone-sdk-"));
    const dataDir = join(tmp, "data");
    acctA = createAccount(dataDir, "sdk-a@example.com");
    acctB = createAccount(dataDir, "sdk-b@example.com");
    assert.notEqual(acctA.accountId, acctB.accountId);

    srv = await startServer(dataDir, join(tmp, "port"));
    baseUrl = srv.baseUrl;

    client = new AgentPhoneClient({ token: acctA.apiKey, baseUrl, timeoutInSeconds: 10 });
    clientB = new AgentPhoneClient({ token: acctB.apiKey, baseUrl, timeoutInSeconds: 10 });
  });

  after(async () => {
    try {
      await stopServer(srv);
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("agents.listVoices returns the voice catalogue", async () => {
    const res = await client.agents.listVoices();
    assert.ok(Array.isArray(res.data), "voices response has data[]");
    assert.ok(res.data.length > 0, "at least one voice");
    for (const v of res.data) {
      assert.equal(typeof v.voice_id, "string");
      assert.ok(v.voice_id.length > 0);
      assert.equal(typeof v.voice_name, "string");
      assert.equal(typeof v.provider, "string");
      for (const k of ["gender", "accent", "preview_audio_url"]) {
        assert.ok(k in v, `voice has ${k}`);
        assert.ok(v[k] === null || typeof v[k] === "string", `voice.${k} string|null`);
      }
    }
    voices = res.data;
  });

  it("agents.createAgent with hosted mode and tuned fields", async () => {
    const voice = voices[voices.length > 1 ? 1 : 0].voice_id;
    const req = {
      name: "SDK Support Bot",
      description: "created by the SDK compat test",
      voiceMode: AgentPhone.CreateAgentRequest.VoiceMode.Hosted,
      systemPrompt: "You are a helpful support agent.",
      beginMessage: "Hello, how can I help?",
      voice,
      modelTier: "turbo",
      sttMode: "accurate",
      ambientSound: "office",
      voiceSpeed: 1.25,
      interruptionSensitivity: 0.5,
      maxSilenceMs: 30000,
      enableBackchannel: false,
      enableMessaging: false,
      language: AgentPhone.CreateAgentRequest.Language.FrFr,
    };
    const res = await client.agents.createAgent(req);
    assertAgentShape(res);
    for (const [k, v] of Object.entries(req)) {
      assert.deepEqual(res[k], v, `created agent field ${k}`);
    }
    assert.deepEqual(res.numbers ?? [], []);
    agent1 = res;
  });

  it("agents.createAgent with only a name applies the documented defaults", async () => {
    const res = await client.agents.createAgent({ name: "SDK Minimal" });
    assertAgentShape(res);
    assert.equal(res.name, "SDK Minimal");
    assert.notEqual(res.id, agent1.id);
    assert.equal(res.description, null);
    assert.equal(res.voiceMode, "webhook");
    assert.equal(res.enableMessaging, true);
    assert.equal(res.maxSilenceMs, 600000);
    assert.equal(res.voiceSpeed, 1);
    assert.equal(res.interruptionSensitivity, 0.8);
    assert.equal(res.enableBackchannel, true);
    assert.equal(res.language, "en-US");
    agent2 = res;
  });

  it("agents.getAgent returns the stored agent", async () => {
    const res = await client.agents.getAgent({ agent_id: agent1.id });
    assertAgentShape(res);
    assert.deepEqual(res, agent1);
  });

  it("agents.listAgents lists both agents", async () => {
    const res = await client.agents.listAgents();
    assert.ok(Array.isArray(res.data));
    assert.equal(res.total, 2);
    assert.equal(res.data.length, 2);
    for (const a of res.data) assertAgentShape(a);
    assert.deepEqual(res.data.map((a) => a.id).sort(), [agent1.id, agent2.id].sort());
    const listed1 = res.data.find((a) => a.id === agent1.id);
    assert.equal(listed1.systemPrompt, agent1.systemPrompt);
    assert.equal(listed1.language, agent1.language);

    // The SDK's `offset` query parameter pages through the same list.
    const page2 = await client.agents.listAgents({ offset: 1 });
    assert.equal(page2.total, 2);
    assert.equal(page2.data.length, 1);
    assert.ok([agent1.id, agent2.id].includes(page2.data[0].id));
    await expectSdkError(client.agents.listAgents({ offset: -1 }), 422, AgentPhone.UnprocessableEntityError);

    // Also reachable through the `environment` option instead of `baseUrl`.
    const viaEnv = new AgentPhoneClient({ token: acctA.apiKey, environment: baseUrl, timeoutInSeconds: 10 });
    const res2 = await viaEnv.agents.listAgents({});
    assert.equal(res2.total, 2);

    // The other account sees none of them.
    const resB = await clientB.agents.listAgents();
    assert.equal(resB.total, 0);
    assert.deepEqual(resB.data, []);
  });

  it("agents.updateAgent changes only the sent fields", async () => {
    const res = await client.agents.updateAgent({
      agent_id: agent1.id,
      systemPrompt: "You are a terse support agent.",
      voiceSpeed: 0.75,
    });
    assertAgentShape(res);
    assert.equal(res.id, agent1.id);
    assert.equal(res.systemPrompt, "You are a terse support agent.");
    assert.equal(res.voiceSpeed, 0.75);
    // Unsent fields keep their values.
    for (const k of [
      "name",
      "description",
      "voiceMode",
      "beginMessage",
      "voice",
      "modelTier",
      "sttMode",
      "ambientSound",
      "interruptionSensitivity",
      "maxSilenceMs",
      "enableBackchannel",
      "enableMessaging",
      "language",
      "createdAt",
    ]) {
      assert.deepEqual(res[k], agent1[k], `unsent field ${k} kept`);
    }
    const got = await client.agents.getAgent({ agent_id: agent1.id });
    assert.deepEqual(got, res, "update is persisted");
    agent1 = got;
  });

  // Each account starts with $5.00 of credit and a number costs $3.00, so an
  // account can provision one number: account A provisions with an area code,
  // account B provisions one attached to its agent through agentId.
  it("numbers.createNumber provisions a number in area code 415", async () => {
    const res = await client.numbers.createNumber({ country: "US", areaCode: "415" });
    assertNumberShape(res);
    assert.match(res.phoneNumber, /^\+1415\d{7}$/);
    assert.equal(res.country, "US");
    assert.equal(res.status, "active");
    assert.equal(res.agentId ?? null, null);
    num1 = res;
  });

  it("numbers.createNumber with agentId attaches the new number", async () => {
    agentB = await clientB.agents.createAgent({ name: "B's agent", voiceMode: "webhook" });
    assertAgentShape(agentB);
    const res = await clientB.numbers.createNumber({ agentId: agentB.id });
    assertNumberShape(res);
    assert.equal(res.agentId, agentB.id);
    assert.equal(res.status, "active");
    assert.equal(res.country, "US");
    assert.notEqual(res.id, num1.id);
    assert.notEqual(res.phoneNumber, num1.phoneNumber);
    numB = res;

    const a = await clientB.agents.getAgent({ agent_id: agentB.id });
    assertAgentShape(a);
    assert.ok(Array.isArray(a.numbers));
    const n = a.numbers.find((x) => x.id === numB.id);
    assert.ok(n, "agent.numbers contains the number provisioned for it");
    assert.equal(n.phoneNumber, numB.phoneNumber);
    assert.equal(n.status, "active");
  });

  it("errors: provisioning past the account's credit is a 402", async () => {
    const err = await expectSdkError(client.numbers.createNumber({ areaCode: "415" }), 402);
    assert.equal(typeof err.body?.detail, "string");
    assert.equal(typeof err.body?.error?.code, "string");
  });

  it("numbers.listNumbers lists the account's numbers only", async () => {
    const res = await client.numbers.listNumbers();
    assert.ok(Array.isArray(res.data));
    assert.equal(res.total, 1);
    assert.equal(res.hasMore, false);
    for (const n of res.data) assertNumberShape(n);
    assert.deepEqual(res.data, [num1]);
    const page2 = await client.numbers.listNumbers({ offset: 1 });
    assert.equal(page2.total, 1);
    assert.deepEqual(page2.data, []);
    assert.equal(page2.hasMore, false);

    const resB = await clientB.numbers.listNumbers({});
    assert.equal(resB.total, 1);
    assert.equal(resB.hasMore, false);
    assert.deepEqual(
      resB.data.map((n) => n.id),
      [numB.id],
    );
  });

  it("numbers.getNumber returns the stored number", async () => {
    const res = await client.numbers.getNumber({ number_id: num1.id });
    assertNumberShape(res);
    assert.deepEqual(res, num1);
  });

  it("agents.attachNumberToAgent attaches and the agent lists it", async () => {
    const res = await client.agents.attachNumberToAgent({ agent_id: agent1.id, numberId: num1.id });
    assertCamelKeys(res, "attach response");
    assert.equal(res.agentId, agent1.id);
    assertAgentNumberShape(res.number);
    assert.equal(res.number.id, num1.id);
    assert.equal(res.number.phoneNumber, num1.phoneNumber);
    assert.equal(res.number.status, "active");

    const a1 = await client.agents.getAgent({ agent_id: agent1.id });
    assertAgentShape(a1);
    assert.ok(Array.isArray(a1.numbers));
    const n = a1.numbers.find((x) => x.id === num1.id);
    assert.ok(n, "agent1.numbers contains num1");
    assert.equal(n.phoneNumber, num1.phoneNumber);

    const n1 = await client.numbers.getNumber({ number_id: num1.id });
    assert.equal(n1.agentId, agent1.id);
  });

  it("agents.detachNumberFromAgent detaches", async () => {
    const res = await client.agents.detachNumberFromAgent({ agent_id: agent1.id, number_id: num1.id });
    assert.equal(res.success, true);

    const a1 = await client.agents.getAgent({ agent_id: agent1.id });
    assert.ok(!(a1.numbers ?? []).some((n) => n.id === num1.id), "agent1.numbers no longer has num1");
    const n1 = await client.numbers.getNumber({ number_id: num1.id });
    assert.equal(n1.agentId ?? null, null);
    assert.equal(n1.status, "active");
  });

  it("agents.deleteAgent deletes and clears the agent from its numbers", async () => {
    // Re-attach num1 to the minimal agent, then delete that agent.
    const att = await client.agents.attachNumberToAgent({ agent_id: agent2.id, numberId: num1.id });
    assert.equal(att.agentId, agent2.id);

    const res = await client.agents.deleteAgent({ agent_id: agent2.id });
    assert.equal(res.success, true);
    assert.equal(res.id, agent2.id);
    assert.equal(res.name, agent2.name);

    await expectSdkError(client.agents.getAgent({ agent_id: agent2.id }), 404);
    const list = await client.agents.listAgents();
    assert.deepEqual(
      list.data.map((a) => a.id),
      [agent1.id],
    );
    assert.equal(list.total, 1);

    const n1 = await client.numbers.getNumber({ number_id: num1.id });
    assert.equal(n1.agentId ?? null, null, "number's agent reference is cleared");
    assert.equal(n1.status, "active");
  });

  it("numbers.deleteNumber releases the number", async () => {
    const res = await client.numbers.deleteNumber({ number_id: num1.id });
    assert.equal(res.success, true);
    assert.equal(res.id, num1.id);
    assert.equal(res.phoneNumber, num1.phoneNumber);
    assert.equal(res.status, "released");

    const list = await client.numbers.listNumbers();
    assert.equal(list.total, 0, "released number is excluded from the list");
    assert.deepEqual(list.data, []);
    assert.equal(list.hasMore, false);

    // Documented: a single number is returned regardless of status.
    const got = await client.numbers.getNumber({ number_id: num1.id });
    assertNumberShape(got);
    assert.equal(got.id, num1.id);
    assert.equal(got.status, "released");
  });

  it("errors: another account's resources are 404 through the SDK", async () => {
    const err = await expectSdkError(client.agents.getAgent({ agent_id: agentB.id }), 404);
    assert.equal(typeof err.body?.detail, "string", "404 body carries a detail string");
    assert.equal(typeof err.body?.error?.message, "string");
    assert.equal(typeof err.body?.error?.code, "string");
    assert.equal(typeof err.body?.error?.type, "string");

    await expectSdkError(client.agents.updateAgent({ agent_id: agentB.id, name: "stolen" }), 404);
    await expectSdkError(client.agents.deleteAgent({ agent_id: agentB.id }), 404);
    await expectSdkError(client.numbers.getNumber({ number_id: numB.id }), 404);
    await expectSdkError(client.numbers.deleteNumber({ number_id: numB.id }), 404);
    await expectSdkError(client.agents.attachNumberToAgent({ agent_id: agent1.id, numberId: numB.id }), 404);
    await expectSdkError(client.agents.detachNumberFromAgent({ agent_id: agentB.id, number_id: numB.id }), 404);
    await expectSdkError(client.agents.getAgent({ agent_id: "agt_doesnotexist" }), 404);
    await expectSdkError(client.numbers.getNumber({ number_id: "num_doesnotexist" }), 404);

    // Untouched for its owner.
    const still = await clientB.agents.getAgent({ agent_id: agentB.id });
    assert.equal(still.name, "B's agent");
    assert.ok(still.numbers.some((n) => n.id === numB.id));
    const stillNum = await clientB.numbers.getNumber({ number_id: numB.id });
    assert.equal(stillNum.status, "active");
    assert.equal(stillNum.agentId, agentB.id);
  });

  it("errors: a wrongly typed field is a 422 UnprocessableEntityError", async () => {
    const err = await expectSdkError(
      client.agents.createAgent({ name: 12345 }),
      422,
      AgentPhone.UnprocessableEntityError,
    );
    assert.ok(Array.isArray(err.body?.detail), "422 body is FastAPI-style {detail: [...]}");
    assert.ok(err.body.detail.length > 0);
    for (const d of err.body.detail) {
      assert.ok(Array.isArray(d.loc));
      assert.equal(typeof d.msg, "string");
      assert.equal(typeof d.type, "string");
    }
    assert.ok(
      err.body.detail.some((d) => d.loc.includes("name")),
      `a detail points at name: ${JSON.stringify(err.body.detail)}`,
    );

    await expectSdkError(
      client.agents.updateAgent({ agent_id: agent1.id, voiceSpeed: "fast" }),
      422,
      AgentPhone.UnprocessableEntityError,
    );
    const unchanged = await client.agents.getAgent({ agent_id: agent1.id });
    assert.deepEqual(unchanged, agent1, "a rejected update changes nothing");
  });

  it("errors: a bad API key is a 401", async () => {
    const bad = new AgentPhoneClient({ token: "sk_live_not_a_real_key", baseUrl, timeoutInSeconds: 10 });
    const err = await expectSdkError(bad.agents.listAgents(), 401);
    assert.ok(err.body != null, "401 has a body");
    await expectSdkError(bad.numbers.listNumbers(), 401);
    await expectSdkError(bad.agents.listVoices(), 401);
  });

  it("agents.deleteAgent on the last agent leaves an empty list", async () => {
    const res = await client.agents.deleteAgent({ agent_id: agent1.id });
    assert.equal(res.success, true);
    assert.equal(res.id, agent1.id);
    const list = await client.agents.listAgents();
    assert.equal(list.total, 0);
    assert.deepEqual(list.data, []);
  });
});

// Messages and conversations through the SDK, on a server of their own.
// Inbound SMS comes from the sandbox carrier (POST /sim/sms, not in the SDK).
describe("official agentphone SDK: messages and conversations", { timeout: 55_000 }, () => {
  const ALICE = "+14155552671";
  const BOB = "+14155550123";
  const MEDIA = "https://example.com/receipt.png";

  let tmp;
  let srv;
  let baseUrl;
  let client; // account A
  let clientB; // account B

  // State shared by the ordered tests below.
  let agentA; // account A's agent; numA is attached to it at provisioning
  let numA; // account A's only number (a number costs $3 of the $5 credit)
  let agentA2; // account A's agent without a number
  let agentB; // account B's agent
  let numB; // account B's only number
  let convAlice; // A's conversation with ALICE
  let convBob; // A's conversation with BOB
  // Every message of numA in the order it was created: { id, conv, direction, body, mediaUrls }.
  const log = [];

  async function simSms(from, to, body) {
    const res = await fetch(`${baseUrl}/sim/sms`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from, to, body }),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  }

  // Injects an inbound SMS to numA and records it in `log`.
  async function inbound(from, body, participant = from) {
    // Distinct millisecond timestamps keep the strict time cursors exact.
    await sleep(5);
    const res = await simSms(from, numA.phoneNumber, body);
    assert.equal(res.status, 200, `sim/sms: ${JSON.stringify(res.body)}`);
    assert.match(res.body.conversationId, /^conv_/);
    assert.match(res.body.messageId, /^msg_/);
    assert.equal(res.body.status, "received");
    log.push({ id: res.body.messageId, conv: res.body.conversationId, direction: "inbound", body, from: participant, mediaUrls: [] });
    return res.body;
  }

  // Sends through the SDK from numA and records it in `log`.
  async function outbound(request) {
    await sleep(5);
    const res = await client.messages.sendMessage(request);
    assertSendShape(res);
    assert.equal(res.from_number, numA.phoneNumber);
    assert.equal(res.channel, request.media_urls?.length ? "mms" : "sms");
    log.push({
      id: res.id,
      conv: res.conversation_id,
      direction: "outbound",
      body: request.body,
      to: res.to_number,
      mediaUrls: request.media_urls ?? [],
    });
    return res;
  }

  const newestFirst = (conv) =>
    log
      .filter((m) => conv === undefined || m.conv === conv)
      .map((m) => m.id)
      .reverse();

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "agentphone-sdk-msg-"));
    const dataDir = join(tmp, "data");
    const a = createAccount(dataDir, "sdk-msg-a@example.com");
    const b = createAccount(dataDir, "sdk-msg-b@example.com");
    srv = await startServer(dataDir, join(tmp, "port"));
    baseUrl = srv.baseUrl;
    client = new AgentPhoneClient({ token: a.apiKey, baseUrl, timeoutInSeconds: 10 });
    clientB = new AgentPhoneClient({ token: b.apiKey, baseUrl, timeoutInSeconds: 10 });

    agentA = await client.agents.createAgent({ name: "SMS desk" });
    agentA2 = await client.agents.createAgent({ name: "No number" });
    numA = await client.numbers.createNumber({ areaCode: "415", agentId: agentA.id });
    assert.equal(numA.agentId, agentA.id);
    agentB = await clientB.agents.createAgent({ name: "B desk" });
    numB = await clientB.numbers.createNumber({ areaCode: "415" });
    assert.notEqual(numA.phoneNumber, numB.phoneNumber);
  });

  after(async () => {
    try {
      await stopServer(srv);
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("messages.sendMessage by number_id queues an SMS and starts a conversation", async () => {
    const res = await outbound({ number_id: numA.id, to_number: "(415) 555-2671", body: "Hello Alice, your order shipped." });
    assert.deepEqual(Object.keys(res).sort(), [...SEND_KEYS].sort(), "exactly the SendMessageResponse fields");
    assert.equal(res.to_number, ALICE, "to_number is normalised to E.164");
    assert.deepEqual(res.media_urls, []);
    convAlice = res.conversation_id;
  });

  it("an inbound SMS from the same party threads into the same conversation", async () => {
    const r1 = await inbound(ALICE, "Thanks! When will it arrive?");
    assert.equal(r1.conversationId, convAlice, "outbound and inbound share the conversation");
    assert.notEqual(r1.messageId, log[0].id);
    // The carrier's sender in another format still threads on its E.164 form.
    const r2 = await inbound("415-555-2671", "Also, can I change the address?", ALICE);
    assert.equal(r2.conversationId, convAlice);
  });

  it("messages.sendMessage by from_number and by agent_id use the same number and thread", async () => {
    const byFrom = await outbound({ from_number: numA.phoneNumber, to_number: "+1 415 555 2671", body: "Tomorrow by 5pm." });
    assert.equal(byFrom.conversation_id, convAlice);
    assert.equal(byFrom.to_number, ALICE);

    const byAgent = await outbound({ agent_id: agentA.id, to_number: ALICE, body: "Here is your receipt.", media_urls: [MEDIA] });
    assert.equal(byAgent.conversation_id, convAlice);
    assert.deepEqual(byAgent.media_urls, [MEDIA]);
    assert.equal(new Set(log.map((m) => m.id)).size, log.length, "message ids are unique");
  });

  it("another party gets a conversation of its own", async () => {
    const r = await inbound(BOB, "Is this the bakery?");
    convBob = r.conversationId;
    assert.notEqual(convBob, convAlice);
    const res = await outbound({ number_id: numA.id, to_number: BOB, body: "Hi Bob, wrong number I'm afraid." });
    assert.equal(res.conversation_id, convBob);
    assert.equal(res.to_number, BOB);
  });

  it("conversations.listConversations lists newest activity first", async () => {
    const res = await client.conversations.listConversations();
    assert.ok(Array.isArray(res.data));
    assert.equal(res.total, 2);
    assert.equal(res.hasMore, false);
    for (const c of res.data) assertConversationSummaryShape(c);
    assert.deepEqual(
      res.data.map((c) => c.id),
      [convBob, convAlice],
    );
    const [bob, alice] = res.data;
    assert.ok(Date.parse(bob.lastMessageAt) >= Date.parse(alice.lastMessageAt), "sorted by lastMessageAt desc");
    for (const c of res.data) {
      assert.equal(c.agentId, agentA.id);
      assert.equal(c.phoneNumberId, numA.id);
      assert.equal(c.phoneNumber, numA.phoneNumber);
      assert.equal(c.metadata ?? null, null);
    }
    assert.equal(bob.participant, BOB);
    assert.equal(bob.messageCount, 2);
    assert.equal(bob.lastMessagePreview, "Hi Bob, wrong number I'm afraid.");
    assert.equal(alice.participant, ALICE);
    assert.equal(alice.messageCount, 5);
    assert.equal(alice.lastMessagePreview, "Here is your receipt.");

    // `offset` is the SDK's only paging parameter here; `limit` goes through requestOptions.queryParams.
    const page2 = await client.conversations.listConversations({ offset: 1 });
    assert.equal(page2.total, 2);
    assert.equal(page2.hasMore, false);
    assert.deepEqual(
      page2.data.map((c) => c.id),
      [convAlice],
    );
    const first = await client.conversations.listConversations({}, { queryParams: { limit: 1 } });
    assert.equal(first.total, 2);
    assert.equal(first.hasMore, true);
    assert.deepEqual(
      first.data.map((c) => c.id),
      [convBob],
    );
    await expectSdkError(client.conversations.listConversations({ offset: -1 }), 422, AgentPhone.UnprocessableEntityError);

    // New activity moves a conversation to the front.
    await inbound(ALICE, "Great, thank you!");
    const again = await client.conversations.listConversations();
    assert.deepEqual(
      again.data.map((c) => c.id),
      [convAlice, convBob],
    );
    assert.equal(again.data[0].messageCount, 6);
    assert.equal(again.data[0].lastMessagePreview, "Great, thank you!");
    assert.ok(Date.parse(again.data[0].lastMessageAt) >= Date.parse(again.data[1].lastMessageAt));

    // Account B has none of them.
    const resB = await clientB.conversations.listConversations();
    assert.equal(resB.total, 0);
    assert.deepEqual(resB.data, []);
    assert.equal(resB.hasMore, false);
  });

  it("conversations.getConversation returns the detail with its newest messages", async () => {
    const res = await client.conversations.getConversation({ conversation_id: convAlice });
    assertConversationDetailShape(res);
    assert.equal(res.id, convAlice);
    assert.equal(res.participant, ALICE);
    assert.equal(res.agentId, agentA.id);
    assert.equal(res.phoneNumberId, numA.id);
    assert.equal(res.phoneNumber, numA.phoneNumber);
    assert.equal(res.messageCount, 6);
    assert.deepEqual(
      res.messages.map((m) => m.id),
      newestFirst(convAlice),
      "messages newest first",
    );
    const byId = new Map(log.map((m) => [m.id, m]));
    for (const m of res.messages) {
      const sent = byId.get(m.id);
      assert.equal(m.direction, sent.direction);
      assert.equal(m.body, sent.body);
      assert.equal(m.channel, sent.mediaUrls.length ? "mms" : "sms");
      if (m.direction === "outbound") {
        assert.equal(m.fromNumber, numA.phoneNumber);
        assert.equal(m.toNumber, ALICE);
      } else {
        assert.equal(m.fromNumber, ALICE);
        assert.equal(m.toNumber, numA.phoneNumber);
      }
      assert.deepEqual(m.mediaUrls ?? [], sent.mediaUrls);
      assert.deepEqual(m.reactions ?? [], []);
      assert.equal(m.replyTo ?? null, null);
    }
    const withMedia = res.messages.find((m) => m.body === "Here is your receipt.");
    assert.equal(withMedia.mediaUrl, MEDIA);

    // The detail agrees with the list's summary, less the preview.
    const list = await client.conversations.listConversations();
    const summary = list.data.find((c) => c.id === convAlice);
    const { messages, ...rest } = res;
    const { lastMessagePreview, ...summaryRest } = summary;
    assert.equal(typeof lastMessagePreview, "string");
    assert.deepEqual(rest, summaryRest);

    const two = await client.conversations.getConversation({ conversation_id: convAlice, message_limit: 2 });
    assertConversationDetailShape(two);
    assert.equal(two.messageCount, 6, "messageCount counts all messages, not the returned ones");
    assert.deepEqual(
      two.messages.map((m) => m.id),
      newestFirst(convAlice).slice(0, 2),
    );

    await expect422On(client.conversations.getConversation({ conversation_id: convAlice, message_limit: 0 }), "message_limit");
    await expect422On(client.conversations.getConversation({ conversation_id: convAlice, message_limit: 101 }), "message_limit");
    const err = await expectSdkError(client.conversations.getConversation({ conversation_id: "conv_doesnotexist" }), 404);
    assertErrorBody(err);
  });

  it("conversations.updateConversation stores, replaces and clears metadata", async () => {
    const meta = {
      customer: { name: "Zoë Alice 🚀", tier: "gold" },
      orderIds: ["ord_1", "ord_2"],
      vip: true,
      score: 4.5,
      note: null,
      "snake_key": { nested: [1, { deep: "x" }] },
    };
    const res = await client.conversations.updateConversation({ conversation_id: convAlice, metadata: meta });
    assertConversationDetailShape(res);
    assert.equal(res.id, convAlice);
    assert.deepEqual(res.metadata, meta);
    assert.equal(res.messageCount, 6);
    assert.deepEqual(
      res.messages.map((m) => m.id),
      newestFirst(convAlice),
    );

    const got = await client.conversations.getConversation({ conversation_id: convAlice });
    assert.deepEqual(got.metadata, meta, "metadata round-trips through GET");
    const list = await client.conversations.listConversations();
    assert.deepEqual(list.data.find((c) => c.id === convAlice).metadata, meta, "and through the list");
    assert.equal(list.data.find((c) => c.id === convBob).metadata ?? null, null, "other conversations untouched");
    assert.deepEqual(
      list.data.map((c) => c.id),
      [convAlice, convBob],
      "a metadata update is not message activity",
    );

    // A PATCH without metadata changes nothing.
    const noop = await client.conversations.updateConversation({ conversation_id: convAlice });
    assertConversationDetailShape(noop);
    assert.deepEqual(noop.metadata, meta);

    // metadata replaces the whole object.
    const replaced = await client.conversations.updateConversation({ conversation_id: convAlice, metadata: { step: 2 } });
    assert.deepEqual(replaced.metadata, { step: 2 });
    assert.deepEqual((await client.conversations.getConversation({ conversation_id: convAlice })).metadata, { step: 2 });

    // Wrong types are 422 and change nothing.
    await expect422On(client.conversations.updateConversation({ conversation_id: convAlice, metadata: "vip" }), "metadata");
    await expect422On(client.conversations.updateConversation({ conversation_id: convAlice, metadata: [1, 2] }), "metadata");
    assert.deepEqual((await client.conversations.getConversation({ conversation_id: convAlice })).metadata, { step: 2 });

    // null clears.
    const cleared = await client.conversations.updateConversation({ conversation_id: convAlice, metadata: null });
    assert.equal(cleared.metadata ?? null, null);
    assert.equal((await client.conversations.getConversation({ conversation_id: convAlice })).metadata ?? null, null);

    const err = await expectSdkError(
      client.conversations.updateConversation({ conversation_id: "conv_doesnotexist", metadata: { a: 1 } }),
      404,
    );
    assertErrorBody(err);
  });

  it("conversations.getConversationMessages pages newest first with limit and before/after", async () => {
    const expected = newestFirst(convAlice);
    assert.equal(expected.length, 6);
    const full = await client.conversations.getConversationMessages({ conversation_id: convAlice });
    assert.equal(full.hasMore, false);
    for (const m of full.data) assertConversationMessageShape(m);
    assert.deepEqual(
      full.data.map((m) => m.id),
      expected,
    );
    for (let i = 1; i < full.data.length; ++i) {
      assert.ok(Date.parse(full.data[i - 1].receivedAt) > Date.parse(full.data[i].receivedAt), "strictly newest first");
    }

    // limit + before cursor walks the whole conversation once.
    for (const limit of [1, 2, 4]) {
      const all = await pageWithBefore(
        (q) => client.conversations.getConversationMessages({ conversation_id: convAlice, ...q }),
        limit,
        expected.length,
      );
      assert.deepEqual(
        all.map((m) => m.id),
        expected,
        `pages of ${limit}`,
      );
    }

    // `after` keeps the newer ones; with `before` it is a window (both strict).
    const afterRes = await client.conversations.getConversationMessages({
      conversation_id: convAlice,
      after: full.data[3].receivedAt,
    });
    assert.deepEqual(
      afterRes.data.map((m) => m.id),
      expected.slice(0, 3),
    );
    assert.equal(afterRes.hasMore, false);
    const windowRes = await client.conversations.getConversationMessages({
      conversation_id: convAlice,
      before: full.data[0].receivedAt,
      after: full.data[3].receivedAt,
    });
    assert.deepEqual(
      windowRes.data.map((m) => m.id),
      expected.slice(1, 3),
    );
    // A cursor older than everything, and one in the future.
    const older = await client.conversations.getConversationMessages({ conversation_id: convAlice, before: "2001-01-01T00:00:00Z" });
    assert.deepEqual(older.data, []);
    assert.equal(older.hasMore, false);
    const future = await client.conversations.getConversationMessages({ conversation_id: convAlice, before: "2999-01-01T00:00:00Z" });
    assert.deepEqual(
      future.data.map((m) => m.id),
      expected,
    );

    // The SDK sends `before: null` as an empty `before=`; it means no cursor.
    const nullCursor = await client.conversations.getConversationMessages({ conversation_id: convAlice, before: null, after: null });
    assert.deepEqual(
      nullCursor.data.map((m) => m.id),
      expected,
    );

    // Strict parsing: anything but an ISO date-time is a 422.
    await expect422On(client.conversations.getConversationMessages({ conversation_id: convAlice, before: "yesterday" }), "before");
    await expect422On(client.conversations.getConversationMessages({ conversation_id: convAlice, after: "2025-13-45T00:00:00Z" }), "after");
    await expect422On(client.conversations.getConversationMessages({ conversation_id: convAlice, limit: 0 }), "limit");
    await expect422On(client.conversations.getConversationMessages({ conversation_id: convAlice, limit: 201 }), "limit");
    const max = await client.conversations.getConversationMessages({ conversation_id: convAlice, limit: 200 });
    assert.equal(max.data.length, 6);

    const bob = await client.conversations.getConversationMessages({ conversation_id: convBob });
    assert.deepEqual(
      bob.data.map((m) => m.id),
      newestFirst(convBob),
    );
    const err = await expectSdkError(client.conversations.getConversationMessages({ conversation_id: "conv_doesnotexist" }), 404);
    assertErrorBody(err);
  });

  it("numbers.getMessages lists the number's messages across conversations", async () => {
    const expected = newestFirst();
    assert.equal(expected.length, 8);
    const res = await client.numbers.getMessages({ number_id: numA.id });
    assert.ok(Array.isArray(res.data));
    assert.equal(res.hasMore, false);
    for (const m of res.data) assertNumberMessageShape(m);
    assert.deepEqual(
      res.data.map((m) => m.id),
      expected,
    );
    const byId = new Map(log.map((m) => [m.id, m]));
    for (const m of res.data) {
      const sent = byId.get(m.id);
      assert.equal(m.direction, sent.direction);
      assert.equal(m.body, sent.body);
      assert.equal(m.channel, sent.mediaUrls.length ? "mms" : "sms");
      if (m.direction === "outbound") {
        assert.equal(m.from_, numA.phoneNumber);
        assert.equal(m.to, sent.to);
      } else {
        assert.equal(m.from_, sent.from);
        assert.equal(m.to, numA.phoneNumber);
      }
    }

    const all = await pageWithBefore((q) => client.numbers.getMessages({ number_id: numA.id, ...q }), 3, expected.length);
    assert.deepEqual(
      all.map((m) => m.id),
      expected,
    );
    const recent = await client.numbers.getMessages({ number_id: numA.id, after: res.data[2].receivedAt });
    assert.deepEqual(
      recent.data.map((m) => m.id),
      expected.slice(0, 2),
    );
    await expect422On(client.numbers.getMessages({ number_id: numA.id, before: "not-a-date" }), "before");
    await expect422On(client.numbers.getMessages({ number_id: numA.id, limit: 201 }), "limit");

    const empty = await clientB.numbers.getMessages({ number_id: numB.id });
    assert.deepEqual(empty.data, []);
    assert.equal(empty.hasMore, false);
    assertErrorBody(await expectSdkError(client.numbers.getMessages({ number_id: "num_doesnotexist" }), 404));
  });

  it("agents.listAgentConversations lists the agent's conversations", async () => {
    const res = await client.agents.listAgentConversations({ agent_id: agentA.id });
    assert.ok(Array.isArray(res.data));
    assert.equal(res.total, 2);
    assert.equal(res.hasMore, false);
    for (const c of res.data) {
      assertConversationSummaryShape(c, "agent conversation summary");
      assert.equal(c.agentId, agentA.id);
    }
    assert.deepEqual(
      res.data.map((c) => c.id),
      [convAlice, convBob],
    );
    const all = await client.conversations.listConversations();
    assert.deepEqual(res.data, all.data, "same summaries as the account list");

    const first = await client.agents.listAgentConversations({ agent_id: agentA.id, limit: 1 });
    assert.equal(first.total, 2);
    assert.equal(first.hasMore, true);
    assert.deepEqual(
      first.data.map((c) => c.id),
      [convAlice],
    );
    const second = await client.agents.listAgentConversations({ agent_id: agentA.id, limit: 1, offset: 1 });
    assert.equal(second.hasMore, false);
    assert.deepEqual(
      second.data.map((c) => c.id),
      [convBob],
    );
    await expect422On(client.agents.listAgentConversations({ agent_id: agentA.id, limit: 0 }), "limit");

    const none = await client.agents.listAgentConversations({ agent_id: agentA2.id });
    assert.equal(none.total, 0);
    assert.deepEqual(none.data, []);
    assert.equal(none.hasMore, false);
    assertErrorBody(await expectSdkError(client.agents.listAgentConversations({ agent_id: "agt_doesnotexist" }), 404));
  });

  it("errors: refused sends are 422 / 400 / 404 through the SDK and record nothing", async () => {
    // Not a US/CA number.
    await expect422On(client.messages.sendMessage({ number_id: numA.id, to_number: "+442079460958", body: "hi" }), "to_number");
    await expect422On(client.messages.sendMessage({ number_id: numA.id, to_number: "not a phone", body: "hi" }), "to_number");
    // Too long, and wrongly typed.
    await expect422On(client.messages.sendMessage({ number_id: numA.id, to_number: ALICE, body: "x".repeat(1601) }), "body");
    await expect422On(client.messages.sendMessage({ number_id: numA.id, to_number: ALICE, body: 42 }), "body");
    await expect422On(client.messages.sendMessage({ number_id: numA.id, body: "hi" }), "to_number");
    // No sender at all.
    await expectSdkError(client.messages.sendMessage({ to_number: ALICE, body: "hi" }), 422, AgentPhone.UnprocessableEntityError);

    // iMessage-only fields are a 400, not a 422.
    for (const extra of [
      { send_style: AgentPhone.SendMessageRequest.SendStyle.Confetti },
      { reply_to_message_id: log[0].id },
      { recipients: [ALICE, BOB] },
    ]) {
      const err = await expectSdkError(client.messages.sendMessage({ number_id: numA.id, to_number: ALICE, body: "hi", ...extra }), 400);
      assert.ok(!(err instanceof AgentPhone.UnprocessableEntityError));
      assertErrorBody(err);
    }

    // Unknown senders.
    assertErrorBody(await expectSdkError(client.messages.sendMessage({ number_id: "num_doesnotexist", to_number: ALICE, body: "hi" }), 404));
    await expectSdkError(client.messages.sendMessage({ agent_id: "agt_doesnotexist", to_number: ALICE, body: "hi" }), 404);
    // An agent without a number cannot send.
    assertErrorBody(await expectSdkError(client.messages.sendMessage({ agent_id: agentA2.id, to_number: ALICE, body: "hi" }), 400));

    const list = await client.conversations.listConversations();
    assert.equal(list.total, 2, "no conversation was started by a refused send");
    assert.equal(list.data.find((c) => c.id === convAlice).messageCount, 6);
    const msgs = await client.numbers.getMessages({ number_id: numA.id });
    assert.equal(msgs.data.length, 8, "no message was recorded by a refused send");
  });

  it("errors: another account's conversations, numbers and agents are 404", async () => {
    assertErrorBody(await expectSdkError(clientB.conversations.getConversation({ conversation_id: convAlice }), 404));
    await expectSdkError(clientB.conversations.updateConversation({ conversation_id: convAlice, metadata: { hacked: true } }), 404);
    await expectSdkError(clientB.conversations.getConversationMessages({ conversation_id: convAlice }), 404);
    await expectSdkError(clientB.numbers.getMessages({ number_id: numA.id }), 404);
    await expectSdkError(clientB.agents.listAgentConversations({ agent_id: agentA.id }), 404);
    await expectSdkError(clientB.messages.sendMessage({ number_id: numA.id, to_number: ALICE, body: "spoof" }), 404);
    await expectSdkError(clientB.messages.sendMessage({ from_number: numA.phoneNumber, to_number: ALICE, body: "spoof" }), 404);
    await expectSdkError(clientB.messages.sendMessage({ agent_id: agentA.id, to_number: ALICE, body: "spoof" }), 404);

    // Untouched for its owner.
    const still = await client.conversations.getConversation({ conversation_id: convAlice });
    assert.equal(still.metadata ?? null, null, "B's PATCH did not land");
    assert.equal(still.messageCount, 6);

    // The same party texting B's number is B's conversation, invisible to A.
    const r = await simSms(ALICE, numB.phoneNumber, "Hello B");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.notEqual(r.body.conversationId, convAlice);
    const listB = await clientB.conversations.listConversations();
    assert.equal(listB.total, 1);
    assert.deepEqual(
      listB.data.map((c) => c.id),
      [r.body.conversationId],
    );
    assertConversationSummaryShape(listB.data[0]);
    assert.equal(listB.data[0].phoneNumberId, numB.id);
    assert.equal(listB.data[0].agentId ?? null, null, "numB has no agent");
    assert.equal(listB.data[0].participant, ALICE);
    const sentB = await clientB.messages.sendMessage({ number_id: numB.id, to_number: ALICE, body: "Hi from B" });
    assertSendShape(sentB);
    assert.equal(sentB.conversation_id, r.body.conversationId);
    assert.equal(sentB.from_number, numB.phoneNumber);
    await expectSdkError(client.conversations.getConversation({ conversation_id: r.body.conversationId }), 404);
    assert.equal((await client.conversations.listConversations()).total, 2);
    const agentBConvs = await clientB.agents.listAgentConversations({ agent_id: agentB.id });
    assert.equal(agentBConvs.total, 0, "B's agent holds no number, so no conversations");
  });

  it("sandbox carrier: an SMS to a number nobody holds is a 404 and leaves no trace", async () => {
    const r = await simSms(ALICE, "+14155550000", "anyone there?");
    assert.equal(r.status, 404, JSON.stringify(r.body));
    assert.equal((await client.conversations.listConversations()).total, 2);
    assert.equal((await clientB.conversations.listConversations()).total, 1);
  });
});

// ---------------------------------------------------------------------------
// Webhooks (contract B.6, B.7, C): a local receiver stands in for the
// customer's endpoint and checks every delivery independently of the server.

const WEBHOOK_KEYS = ["id", "url", "secret", "status", "contextLimit", "timeout", "createdAt"];
const DELIVERY_KEYS = [
  "id",
  "messageId",
  "eventType",
  "channel",
  "status",
  "httpStatus",
  "errorMessage",
  "responseBody",
  "attemptCount",
  "lastAttemptAt",
  "nextRetryAt",
  "createdAt",
];
const ENVELOPE_KEYS = ["event", "channel", "timestamp", "agentId", "data", "conversationState", "recentHistory"];
const SMS_DATA_KEYS = [
  "messageId",
  "conversationId",
  "numberId",
  "from",
  "to",
  "contact",
  "message",
  "mediaUrl",
  "mediaUrls",
  "direction",
  "receivedAt",
];
const HISTORY_KEYS = ["messageId", "content", "direction", "channel", "at"];

const sortedKeys = (o) => Object.keys(o).sort();

// A customer webhook endpoint on 127.0.0.1: records each request's method,
// path, headers, raw body bytes and arrival time, and answers with the status
// respond(record, index) returns (default 200).
async function startReceiver(respond = () => 200) {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const rec = { method: req.method, path: req.url, headers: req.headers, raw: Buffer.concat(chunks), at: Date.now() };
      const index = requests.push(rec) - 1;
      const status = respond(rec, index);
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status < 300 ? "ok" : "try again later");
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    requests,
    url: `http://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// C.4, checked with Node's crypto rather than the server's OpenSSL code:
// "sha256=" + hex(HMAC-SHA256(key = the whole secret string, timestamp + "." + raw body)).
function signatureValid(rec, secret) {
  const sig = rec.headers["x-webhook-signature"];
  const ts = rec.headers["x-webhook-timestamp"];
  if (typeof sig !== "string" || typeof ts !== "string") return false;
  const mac = createHmac("sha256", secret).update(`${ts}.`, "utf8").update(rec.raw).digest("hex");
  const want = Buffer.from(`sha256=${mac}`, "utf8");
  const got = Buffer.from(sig, "utf8");
  return got.length === want.length && timingSafeEqual(got, want);
}

// Checks the headers and signature of one delivery request and returns its
// parsed JSON body.
function assertSignedDelivery(rec, secret, what) {
  assert.equal(rec.method, "POST", `${what}: method`);
  const h = rec.headers;
  assert.match(h["content-type"] ?? "", /^application\/json\s*(;.*)?$/i, `${what}: Content-Type`);
  assert.ok((h["user-agent"] ?? "").length > 0, `${what}: has a User-Agent`);
  assert.ok((h["x-webhook-id"] ?? "").length > 0, `${what}: has an X-Webhook-ID`);
  assert.match(h["x-webhook-timestamp"] ?? "", /^\d+$/, `${what}: X-Webhook-Timestamp is unix seconds`);
  const skew = Math.abs(Date.now() / 1000 - Number(h["x-webhook-timestamp"]));
  assert.ok(skew <= 300, `${what}: timestamp within 300 s of now (off by ${skew} s)`);
  assert.match(h["x-webhook-signature"] ?? "", /^sha256=[0-9a-f]{64}$/, `${what}: X-Webhook-Signature format`);
  assert.ok(signatureValid(rec, secret), `${what}: signature verifies with the webhook secret`);
  // The verifier is not trivially true: one changed byte breaks it.
  const tampered = { ...rec, raw: Buffer.concat([rec.raw, Buffer.from(" ")]) };
  assert.ok(!signatureValid(tampered, secret), `${what}: a modified body does not verify`);
  return JSON.parse(rec.raw.toString("utf8"));
}

function assertWebhookShape(w, what = "webhook") {
  assert.equal(typeof w, "object");
  assert.ok(w !== null, `${what} is an object`);
  assert.deepEqual(sortedKeys(w), [...WEBHOOK_KEYS].sort(), `${what}: exactly the WebhookResponse fields`);
  assertCamelKeys(w, what);
  assert.equal(typeof w.id, "string");
  assert.ok(w.id.length > 0);
  assert.equal(typeof w.url, "string");
  assert.match(w.secret, /^whsec_\S{16,}$/, `${what}.secret`);
  assert.equal(w.status, "active");
  assert.ok(Number.isInteger(w.contextLimit), `${what}.contextLimit is an integer`);
  assert.ok(Number.isInteger(w.timeout), `${what}.timeout is an integer`);
  assertIso(w.createdAt, `${what}.createdAt`);
}

function assertDeliveryShape(d, what = "delivery") {
  assert.equal(typeof d, "object");
  for (const k of DELIVERY_KEYS) assert.ok(k in d, `${what} has ${k}: ${JSON.stringify(d)}`);
  assertCamelKeys(d, what);
  assert.equal(typeof d.id, "string");
  for (const k of ["messageId", "eventType", "channel", "errorMessage", "responseBody"]) {
    assert.ok(d[k] === null || typeof d[k] === "string", `${what}.${k} string|null`);
  }
  assert.equal(typeof d.status, "string");
  assert.ok(d.httpStatus === null || Number.isInteger(d.httpStatus), `${what}.httpStatus int|null`);
  assert.ok(Number.isInteger(d.attemptCount) && d.attemptCount >= 0, `${what}.attemptCount`);
  if (d.lastAttemptAt !== null) assertIso(d.lastAttemptAt, `${what}.lastAttemptAt`);
  if (d.nextRetryAt !== null) assertIso(d.nextRetryAt, `${what}.nextRetryAt`);
  assertIso(d.createdAt, `${what}.createdAt`);
}

// Polls cond() until it returns something truthy, failing after timeoutMs.
async function waitFor(cond, what, timeoutMs = 10_000) {
  const v = await settle(cond, timeoutMs);
  if (!v) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return v;
}

// Polls cond() until it returns something truthy or timeoutMs pass; returns
// the last value either way (for waits whose outcome is asserted afterwards).
async function settle(cond, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v || Date.now() > deadline) return v;
    await sleep(20);
  }
}

describe("official agentphone SDK: webhooks", { timeout: 55_000 }, () => {
  const ALICE = "+14155551234";
  const BOB = "+14155550199";

  let tmp;
  let srv;
  let baseUrl;
  let client; // account A
  let clientB; // account B, which configures nothing
  let agent; // account A's agent; num is attached to it
  let num; // account A's only number
  let projectRx; // receiver behind the project webhook
  let agentRx; // receiver behind the agent webhook
  let flakyRx; // answers 500 twice, then 200
  let downRx; // always answers 503
  let projectHook; // the latest WebhookResponse of the project webhook
  let convAlice;
  // Every real (non-test) message delivery seen so far: { messageId, rec, body, rx }.
  const seen = [];

  async function simSms(from, body) {
    const res = await fetch(`${baseUrl}/sim/sms`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from, to: num.phoneNumber, body }),
    });
    const json = await res.json();
    assert.equal(res.status, 200, `sim/sms: ${JSON.stringify(json)}`);
    assert.match(json.messageId, /^msg_/);
    assert.match(json.conversationId, /^conv_/);
    return json;
  }

  // Injects an inbound SMS, waits for its delivery at rx, checks headers and
  // signature against secret, and returns { sim, rec, body }.
  async function inboundTo(rx, secret, from, text) {
    const before = rx.requests.length;
    await sleep(5); // distinct receivedAt values keep the history order exact
    const sim = await simSms(from, text);
    await waitFor(() => rx.requests.length > before, `the delivery of "${text}"`);
    const rec = rx.requests[before];
    const body = assertSignedDelivery(rec, secret, `delivery of "${text}"`);
    assert.equal(body.data?.messageId, sim.messageId, "the delivery is for the injected message");
    seen.push({ messageId: sim.messageId, rec, body, rx });
    return { sim, rec, body };
  }

  function assertSmsEnvelope(body, { sim, from, text }) {
    assert.deepEqual(sortedKeys(body), [...ENVELOPE_KEYS].sort(), "exactly the agent.message envelope keys");
    assert.equal(body.event, "agent.message");
    assert.equal(body.channel, "sms");
    assertIso(body.timestamp, "payload.timestamp");
    assert.equal(body.agentId, agent.id);
    const d = body.data;
    assert.deepEqual(sortedKeys(d), [...SMS_DATA_KEYS].sort(), "exactly the sms data keys");
    assert.equal(d.messageId, sim.messageId);
    assert.equal(d.conversationId, sim.conversationId);
    assert.equal(d.numberId, num.id);
    assert.equal(d.from, from);
    assert.equal(d.to, num.phoneNumber);
    assert.equal(d.contact, null);
    assert.equal(d.message, text);
    assert.equal(d.mediaUrl, null);
    assert.deepEqual(d.mediaUrls, []);
    assert.equal(d.direction, "inbound");
    assertIso(d.receivedAt, "data.receivedAt");
    assert.ok(Array.isArray(body.recentHistory), "recentHistory is an array");
    for (const h of body.recentHistory) {
      assert.deepEqual(sortedKeys(h), [...HISTORY_KEYS].sort(), "exactly the history item keys");
      assert.match(h.messageId, /^msg_/);
      assert.equal(typeof h.content, "string");
      assert.ok(["inbound", "outbound"].includes(h.direction), `history direction ${h.direction}`);
      assert.equal(h.channel, "sms");
      assertIso(h.at, "history.at");
    }
    assert.ok(
      body.conversationState === null || (typeof body.conversationState === "object" && !Array.isArray(body.conversationState)),
      "conversationState is an object or null",
    );
  }

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "agentphone-sdk-wh-"));
    const dataDir = join(tmp, "data");
    const a = createAccount(dataDir, "sdk-wh-a@example.com");
    const b = createAccount(dataDir, "sdk-wh-b@example.com");
    projectRx = await startReceiver();
    agentRx = await startReceiver();
    flakyRx = await startReceiver((rec, i) => (i < 2 ? 500 : 200));
    downRx = await startReceiver(() => 503);
    srv = await startServer(dataDir, join(tmp, "port"), ["--webhook-retry-base-ms", "100"]);
    baseUrl = srv.baseUrl;
    client = new AgentPhoneClient({ token: a.apiKey, baseUrl, timeoutInSeconds: 10 });
    clientB = new AgentPhoneClient({ token: b.apiKey, baseUrl, timeoutInSeconds: 10 });

    agent = await client.agents.createAgent({ name: "Webhook desk" });
    num = await client.numbers.createNumber({ areaCode: "415", agentId: agent.id });
    assert.equal(num.agentId, agent.id);
  });

  after(async () => {
    try {
      await stopServer(srv);
    } finally {
      for (const rx of [projectRx, agentRx, flakyRx, downRx]) await rx?.close();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("webhooks.getWebhook and agentWebhooks.getAgentWebhook are null before any is set", async () => {
    assert.equal(await client.webhooks.getWebhook(), null);
    assert.equal(await client.agentWebhooks.getAgentWebhook({ agent_id: agent.id }), null);
  });

  it("webhooks.createOrUpdateWebhook returns a WebhookResponse with a whsec_ secret", async () => {
    const url = `${projectRx.url}/hooks/agentphone`;
    const res = await client.webhooks.createOrUpdateWebhook({ body: { url, contextLimit: 2 } });
    assertWebhookShape(res, "project webhook");
    assert.equal(res.url, url);
    assert.equal(res.contextLimit, 2);
    assert.equal(res.timeout, 30, "default voice timeout");
    projectHook = res;

    const got = await client.webhooks.getWebhook();
    assertWebhookShape(got, "GET project webhook");
    assert.deepEqual(got, res);

    // Out-of-range settings are refused and change nothing.
    await expect422On(client.webhooks.createOrUpdateWebhook({ body: { url, contextLimit: 51 } }), "contextLimit");
    await expect422On(client.webhooks.createOrUpdateWebhook({ body: { url, contextLimit: -1 } }), "contextLimit");
    await expect422On(client.webhooks.createOrUpdateWebhook({ body: { url, timeout: 4 } }), "timeout");
    await expect422On(client.webhooks.createOrUpdateWebhook({ body: { url, timeout: 121 } }), "timeout");
    await expect422On(client.webhooks.createOrUpdateWebhook({ body: { contextLimit: 2 } }), "url");
    await expect422On(client.webhooks.createOrUpdateWebhook({ body: { url: "ftp://127.0.0.1/hook" } }), "url");
    assert.deepEqual(await client.webhooks.getWebhook(), res);
    assert.equal(projectRx.requests.length, 0, "configuring a webhook sends nothing");
  });

  it("an inbound SMS is delivered to the project webhook, signed with its secret", async () => {
    const text = "Hi, is my order ready? Zoë 🚀";
    const { sim, rec, body } = await inboundTo(projectRx, projectHook.secret, ALICE, text);
    convAlice = sim.conversationId;
    assert.equal(rec.path, "/hooks/agentphone", "delivered to the configured path");
    assertSmsEnvelope(body, { sim, from: ALICE, text });
    assert.equal(body.conversationState, null, "no metadata yet");
    assert.deepEqual(body.recentHistory.map((h) => h.messageId), [sim.messageId], "history is the message itself");
    assert.equal(body.recentHistory[0].content, text);
    assert.equal(body.recentHistory[0].direction, "inbound");

    // The payload agrees with the stored message.
    const conv = await client.conversations.getConversation({ conversation_id: convAlice });
    const stored = conv.messages.find((m) => m.id === sim.messageId);
    assert.ok(stored, "the message is stored");
    assert.equal(Date.parse(body.data.receivedAt), Date.parse(stored.receivedAt), "data.receivedAt is the stored receivedAt");
    assert.equal(Date.parse(body.recentHistory[0].at), Date.parse(stored.receivedAt), "history.at is the stored receivedAt");
    assert.ok(!signatureValid(rec, "whsec_not-the-secret"), "another secret does not verify");
  });

  it("recentHistory holds the last contextLimit items of the conversation, oldest first", async () => {
    const first = seen[0].messageId;
    const second = await inboundTo(projectRx, projectHook.secret, ALICE, "Order #1234");
    assertSmsEnvelope(second.body, { sim: second.sim, from: ALICE, text: "Order #1234" });
    assert.deepEqual(
      second.body.recentHistory.map((h) => h.messageId),
      [first, second.sim.messageId],
      "two items, oldest first, ending with the trigger",
    );

    // An outbound reply is part of the history (and is not itself delivered).
    const reply = await client.messages.sendMessage({ number_id: num.id, to_number: ALICE, body: "Yes, ready for pickup." });
    assert.equal(reply.conversation_id, convAlice);
    const third = await inboundTo(projectRx, projectHook.secret, ALICE, "Thanks!");
    assertSmsEnvelope(third.body, { sim: third.sim, from: ALICE, text: "Thanks!" });
    assert.equal(third.body.recentHistory.length, 2, "capped at contextLimit 2 after 4 messages");
    assert.deepEqual(
      third.body.recentHistory.map((h) => [h.messageId, h.direction, h.content]),
      [
        [reply.id, "outbound", "Yes, ready for pickup."],
        [third.sim.messageId, "inbound", "Thanks!"],
      ],
    );
    assert.ok(Date.parse(third.body.recentHistory[0].at) <= Date.parse(third.body.recentHistory[1].at), "oldest first");

    // Another party's history is its own conversation only.
    const bob = await inboundTo(projectRx, projectHook.secret, BOB, "Wrong number?");
    assertSmsEnvelope(bob.body, { sim: bob.sim, from: BOB, text: "Wrong number?" });
    assert.notEqual(bob.sim.conversationId, convAlice);
    assert.deepEqual(
      bob.body.recentHistory.map((h) => h.messageId),
      [bob.sim.messageId],
    );
    assert.equal(projectRx.requests.length, 4, "one delivery per inbound message, none for the outbound one");
  });

  it("conversationState is the metadata set with conversations.updateConversation", async () => {
    const meta = { customer: { name: "Alice", tier: "gold" }, orderIds: ["ord_1234"], step: 2, vip: true };
    const upd = await client.conversations.updateConversation({ conversation_id: convAlice, metadata: meta });
    assert.deepEqual(upd.metadata, meta);
    const withMeta = await inboundTo(projectRx, projectHook.secret, ALICE, "Can I come at 5?");
    assertSmsEnvelope(withMeta.body, { sim: withMeta.sim, from: ALICE, text: "Can I come at 5?" });
    assert.deepEqual(withMeta.body.conversationState, meta);

    // Other conversations keep null; clearing the metadata clears the state.
    const bob = await inboundTo(projectRx, projectHook.secret, BOB, "Hello again");
    assert.equal(bob.body.conversationState, null);
    await client.conversations.updateConversation({ conversation_id: convAlice, metadata: null });
    const cleared = await inboundTo(projectRx, projectHook.secret, ALICE, "See you");
    assert.equal(cleared.body.conversationState, null);
  });

  it("a second createOrUpdateWebhook rotates the secret and keeps the id", async () => {
    const old = projectHook;
    const res = await client.webhooks.createOrUpdateWebhook({ body: { url: old.url, contextLimit: 2, timeout: 45 } });
    assertWebhookShape(res, "updated project webhook");
    assert.equal(res.id, old.id, "same webhook");
    assert.notEqual(res.secret, old.secret, "new secret");
    assert.equal(res.timeout, 45);
    assert.equal(res.contextLimit, 2);
    assert.deepEqual(await client.webhooks.getWebhook(), res);
    projectHook = res;

    const { rec, body } = await inboundTo(projectRx, res.secret, ALICE, "After rotation");
    assert.equal(body.event, "agent.message");
    assert.ok(!signatureValid(rec, old.secret), "the old secret no longer verifies");
  });

  it("an agent webhook takes the agent's messages; after deleteAgentWebhook the project one does again", async () => {
    const url = `${agentRx.url}/agent-hook`;
    const hook = await client.agentWebhooks.createOrUpdateAgentWebhook({ agent_id: agent.id, body: { url, contextLimit: 0 } });
    assertWebhookShape(hook, "agent webhook");
    assert.equal(hook.url, url);
    assert.equal(hook.contextLimit, 0);
    assert.notEqual(hook.id, projectHook.id);
    assert.notEqual(hook.secret, projectHook.secret);
    assert.deepEqual(await client.agentWebhooks.getAgentWebhook({ agent_id: agent.id }), hook);
    assert.deepEqual(await client.webhooks.getWebhook(), projectHook, "the project webhook is untouched");

    const projectBefore = projectRx.requests.length;
    const viaAgent = await inboundTo(agentRx, hook.secret, ALICE, "To the agent");
    assert.equal(viaAgent.rec.path, "/agent-hook");
    assertSmsEnvelope(viaAgent.body, { sim: viaAgent.sim, from: ALICE, text: "To the agent" });
    assert.deepEqual(viaAgent.body.recentHistory, [], "contextLimit 0 sends no history");
    assert.ok(!signatureValid(viaAgent.rec, projectHook.secret), "signed with the agent's secret, not the project's");
    // Once the delivery is recorded as done, the project endpoint has still seen nothing.
    await waitFor(async () => {
      const list = await client.agentWebhooks.listAgentDeliveries({ agent_id: agent.id });
      return list.some((d) => d.messageId === viaAgent.sim.messageId && d.status === "delivered");
    }, "the agent delivery to be recorded");
    await sleep(100);
    assert.equal(projectRx.requests.length, projectBefore, "nothing went to the project webhook");
    assert.equal(agentRx.requests.length, 1);

    // The agent's test endpoint signs with the agent's secret.
    const test = await client.agentWebhooks.testAgentWebhook({ agent_id: agent.id });
    assert.deepEqual(sortedKeys(test), ["error", "responseMs", "statusCode", "success"]);
    assert.equal(test.success, true);
    assert.equal(test.statusCode, 200);
    assert.ok(Number.isInteger(test.responseMs) && test.responseMs >= 0, `responseMs ${test.responseMs}`);
    assert.equal(test.error, null);
    assert.equal(agentRx.requests.length, 2, "the test delivery arrived before the call returned");
    const fake = assertSignedDelivery(agentRx.requests[1], hook.secret, "agent test delivery");
    assert.equal(fake.event, "agent.message");
    assert.equal(fake.agentId, agent.id);
    assert.equal(projectRx.requests.length, projectBefore);

    const del = await client.agentWebhooks.deleteAgentWebhook({ agent_id: agent.id });
    assert.equal(del.success, true);
    assert.equal(await client.agentWebhooks.getAgentWebhook({ agent_id: agent.id }), null);
    assert.deepEqual(await client.webhooks.getWebhook(), projectHook, "deleting the agent webhook keeps the project one");

    const back = await inboundTo(projectRx, projectHook.secret, ALICE, "Back to the project");
    assertSmsEnvelope(back.body, { sim: back.sim, from: ALICE, text: "Back to the project" });
    assert.equal(back.body.recentHistory.length, 2, "project contextLimit applies again");
    await sleep(100);
    assert.equal(agentRx.requests.length, 2, "nothing more went to the deleted agent webhook");
  });

  it("webhooks.listDeliveries and agentWebhooks.listAgentDeliveries record each delivery", async () => {
    const ours = new Set(seen.map((s) => s.messageId));
    // A receiver sees a request before the server records its outcome: give
    // the records a moment to settle, then check them.
    await settle(async () => {
      const l = await client.webhooks.listDeliveries();
      return seen.every((s) => l.items.some((d) => d.messageId === s.messageId && d.status === "delivered"));
    }, 5_000);
    const res = await client.webhooks.listDeliveries();
    for (const k of ["items", "total", "offset", "limit"]) assert.ok(k in res, `envelope has ${k}`);
    assert.ok(Array.isArray(res.items));
    assert.equal(res.offset, 0);
    assert.equal(res.limit, 50);
    assert.equal(res.total, res.items.length, "everything fits in the default page");
    for (const d of res.items) assertDeliveryShape(d);
    const messageDeliveries = res.items.filter((d) => ours.has(d.messageId));
    assert.equal(messageDeliveries.length, seen.length, "one record per delivered message");
    assert.deepEqual(new Set(messageDeliveries.map((d) => d.messageId)), ours);
    for (const d of messageDeliveries) {
      assert.equal(d.status, "delivered", JSON.stringify(d));
      assert.equal(d.httpStatus, 200);
      assert.equal(d.attemptCount, 1);
      assert.equal(d.eventType, "agent.message");
      assert.equal(d.channel, "sms");
      assert.equal(d.errorMessage, null);
      assert.equal(d.responseBody, "ok", "the receiver's answer is recorded");
      assert.equal(d.nextRetryAt, null, "no retry pending");
      assertIso(d.lastAttemptAt, "delivery.lastAttemptAt");
    }
    // Each delivery has its own X-Webhook-ID.
    const ids = seen.map((s) => s.rec.headers["x-webhook-id"]);
    assert.equal(new Set(ids).size, ids.length, "X-Webhook-ID is unique per delivery");

    // offset/limit page through the same list; hours filters by age.
    const page = await client.webhooks.listDeliveries({ limit: 2, offset: 1 });
    assert.equal(page.limit, 2);
    assert.equal(page.offset, 1);
    assert.equal(page.total, res.total);
    assert.deepEqual(
      page.items.map((d) => d.id),
      res.items.slice(1, 3).map((d) => d.id),
    );
    const recent = await client.webhooks.listDeliveries({ hours: 1 });
    assert.equal(recent.total, res.total, "all deliveries are within the last hour");

    // The agent's list is a bare array of the agent webhook's deliveries.
    const agentList = await client.agentWebhooks.listAgentDeliveries({ agent_id: agent.id });
    assert.ok(Array.isArray(agentList), "agent deliveries are a bare array");
    for (const d of agentList) assertDeliveryShape(d, "agent delivery");
    const viaAgent = seen.filter((s) => s.rx === agentRx).map((s) => s.messageId);
    assert.equal(viaAgent.length, 1);
    const agentMsgDeliveries = agentList.filter((d) => ours.has(d.messageId));
    assert.deepEqual(
      agentMsgDeliveries.map((d) => d.messageId),
      viaAgent,
      "only the message delivered through the agent webhook",
    );
    assert.equal(agentMsgDeliveries[0].status, "delivered");
    assert.equal(agentMsgDeliveries[0].httpStatus, 200);
    assert.equal(agentMsgDeliveries[0].attemptCount, 1);
    assertErrorBody(await expectSdkError(client.agentWebhooks.listAgentDeliveries({ agent_id: "agt_doesnotexist" }), 404));
  });

  it("webhooks.deliveryStats and webhooks.allTimeStats count the deliveries", async () => {
    const list = await client.webhooks.listDeliveries();
    const stats = await client.webhooks.deliveryStats();
    for (const k of ["total", "success", "failed", "pending"]) {
      assert.ok(Number.isInteger(stats[k]) && stats[k] >= 0, `stats.${k} ${stats[k]}`);
    }
    assert.equal(typeof stats.successRate, "number");
    assert.equal(typeof stats.byEventType, "object");
    assert.ok(Array.isArray(stats.byHour));
    assert.equal(stats.total, list.total);
    assert.equal(stats.failed, 0);
    assert.equal(stats.pending, 0);
    assert.equal(stats.success, stats.total);
    assert.ok(stats.byEventType["agent.message"], `byEventType has agent.message: ${JSON.stringify(stats.byEventType)}`);

    const all = await client.webhooks.allTimeStats();
    for (const k of ["total", "success", "failed"]) assert.ok(Number.isInteger(all[k]), `allTime.${k}`);
    assert.equal(typeof all.successRate, "number");
    assert.equal(all.total, list.total);
    assert.equal(all.success, list.total);
    assert.equal(all.failed, 0);
  });

  it("webhooks.testWebhook sends a signed fake agent.message and reports the endpoint's answer", async () => {
    const before = projectRx.requests.length;
    const res = await client.webhooks.testWebhook();
    assert.deepEqual(sortedKeys(res), ["error", "responseMs", "statusCode", "success"]);
    assert.equal(res.success, true);
    assert.equal(res.statusCode, 200);
    assert.ok(Number.isInteger(res.responseMs) && res.responseMs >= 0, `responseMs ${res.responseMs}`);
    assert.equal(res.error, null);
    assert.equal(projectRx.requests.length, before + 1, "the test delivery arrived before the call returned");
    const fake = assertSignedDelivery(projectRx.requests[before], projectHook.secret, "project test delivery");
    assert.equal(fake.event, "agent.message");
    assert.equal(fake.channel, "sms");
    assert.equal(fake.agentId, agent.id, "defaults to the account's first agent");
    assert.equal(typeof fake.data, "object");

    // ?agentId picks the agent named in the payload.
    const other = await client.agents.createAgent({ name: "Second desk" });
    const res2 = await client.webhooks.testWebhook({ agentId: other.id });
    assert.equal(res2.success, true);
    const fake2 = assertSignedDelivery(projectRx.requests[before + 1], projectHook.secret, "project test delivery (agentId)");
    assert.equal(fake2.agentId, other.id);
    await expectSdkError(client.webhooks.testWebhook({ agentId: "agt_doesnotexist" }), 404);
    assert.equal(projectRx.requests.length, before + 2, "an unknown agentId sends nothing");

    // An endpoint answering 503 is reported, not thrown.
    const down = await client.webhooks.createOrUpdateWebhook({ body: { url: `${downRx.url}/down`, contextLimit: 2 } });
    const failed = await client.webhooks.testWebhook();
    assert.equal(failed.success, false);
    assert.equal(failed.statusCode, 503);
    assert.equal(typeof failed.error, "string");
    assert.equal(downRx.requests.length, 1, "a test delivery is not retried");
    assertSignedDelivery(downRx.requests[0], down.secret, "test delivery to a failing endpoint");
    assert.equal(projectRx.requests.length, before + 2);
  });

  it("a failing delivery is retried with the same X-Webhook-ID until the endpoint answers 2xx", async () => {
    const hook = await client.webhooks.createOrUpdateWebhook({ body: { url: `${flakyRx.url}/flaky`, contextLimit: 2 } });
    const sim = await simSms(BOB, "Retry me");
    await waitFor(() => flakyRx.requests.length >= 3, "three attempts at the flaky endpoint");
    const attempts = flakyRx.requests.slice(0, 3);
    const bodies = attempts.map((rec, i) => assertSignedDelivery(rec, hook.secret, `attempt ${i + 1}`));
    const ids = attempts.map((rec) => rec.headers["x-webhook-id"]);
    assert.equal(new Set(ids).size, 1, `same X-Webhook-ID on every attempt: ${ids}`);
    assert.ok(!seen.some((s) => s.rec.headers["x-webhook-id"] === ids[0]), "and not the id of an earlier delivery");
    for (const b of bodies) assert.equal(b.data.messageId, sim.messageId);
    for (let i = 1; i < 3; ++i) {
      assert.deepEqual(bodies[i], bodies[0], "every attempt carries the same payload");
      assert.ok(attempts[i].at > attempts[i - 1].at, "attempts are spaced in time");
    }

    const d = await waitFor(async () => {
      const list = await client.webhooks.listDeliveries();
      const found = list.items.find((x) => x.messageId === sim.messageId);
      return found?.status === "delivered" ? found : null;
    }, "the retried delivery to be recorded as delivered");
    assertDeliveryShape(d);
    assert.equal(d.attemptCount, 3);
    assert.equal(d.httpStatus, 200, "the last attempt's status");
    assert.equal(d.responseBody, "ok", "the last attempt's answer");
    assert.equal(d.nextRetryAt, null);
    await sleep(100);
    assert.equal(flakyRx.requests.length, 3, "no attempt after the success");
  });

  it("webhooks.deleteWebhook removes the project webhook and nothing more is delivered", async () => {
    const listBefore = await client.webhooks.listDeliveries();
    const del = await client.webhooks.deleteWebhook();
    assert.equal(del.success, true);
    assert.equal(await client.webhooks.getWebhook(), null);

    const counts = () => [projectRx, agentRx, flakyRx, downRx].map((rx) => rx.requests.length);
    const before = counts();
    const sim = await simSms(ALICE, "Anyone listening?");
    await sleep(300);
    assert.deepEqual(counts(), before, "no receiver got a request");
    const listAfter = await client.webhooks.listDeliveries();
    assert.equal(listAfter.total, listBefore.total, "no delivery was recorded");
    assert.ok(!listAfter.items.some((x) => x.messageId === sim.messageId));
  });

  it("another account sees none of account A's webhooks", async () => {
    assert.equal(await clientB.webhooks.getWebhook(), null);
    const list = await clientB.webhooks.listDeliveries();
    assert.equal(list.total, 0);
    assert.deepEqual(list.items, []);
    await expectSdkError(clientB.agentWebhooks.getAgentWebhook({ agent_id: agent.id }), 404);
    await expectSdkError(clientB.agentWebhooks.listAgentDeliveries({ agent_id: agent.id }), 404);
    await expectSdkError(
      clientB.agentWebhooks.createOrUpdateAgentWebhook({ agent_id: agent.id, body: { url: `${agentRx.url}/stolen` } }),
      404,
    );
    const stats = await clientB.webhooks.allTimeStats();
    assert.equal(stats.total, 0);
  });
});

// ---------------------------------------------------------------------------
// Calls (contract B.5, docs/calls.md) through the SDK's `calls` resource and
// agents.listAgentCalls. The SDK types calls.* as `unknown` and only declares
// CallListResponse / CallSummary (for agents.listAgentCalls), so the checks
// below hold every call list to CallSummary and every call detail to
// CallSummary plus `transcripts`. The sandbox phone (/sim/calls, not in the
// SDK) places inbound calls and speaks for the simulated callee.

const CALL_SUMMARY_KEYS = [
  "id",
  "agentId",
  "phoneNumberId",
  "phoneNumber",
  "fromNumber",
  "toNumber",
  "status",
  "startedAt",
  "endedAt",
  "durationSeconds",
  "lastTranscriptSnippet",
];
const TRANSCRIPT_KEYS = ["id", "transcript", "response", "confidence", "createdAt"];
const CALL_STATUSES = ["ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled"];

// CallSummary: every declared field, with its declared type; `ended` says
// whether endedAt/durationSeconds must be set (true) or null (false).
function assertCallSummaryShape(c, what = "call summary", { ended } = {}) {
  assert.equal(typeof c, "object");
  assert.ok(c !== null, `${what} is an object`);
  for (const k of CALL_SUMMARY_KEYS) assert.ok(k in c, `${what} has ${k}: ${JSON.stringify(c)}`);
  assertCamelKeys(c, what);
  assert.match(c.id, /^call_/, `${what}.id`);
  assert.ok(c.agentId === null || /^agt_/.test(c.agentId), `${what}.agentId ${c.agentId}`);
  assert.ok(c.phoneNumberId === null || /^num_/.test(c.phoneNumberId), `${what}.phoneNumberId ${c.phoneNumberId}`);
  assert.ok(c.phoneNumber === null || E164_US_RE.test(c.phoneNumber), `${what}.phoneNumber ${c.phoneNumber}`);
  assert.match(c.fromNumber, E164_US_RE, `${what}.fromNumber`);
  assert.match(c.toNumber, E164_US_RE, `${what}.toNumber`);
  assert.ok(CALL_STATUSES.includes(c.status), `${what}.status ${c.status}`);
  assertIso(c.startedAt, `${what}.startedAt`);
  assert.ok(c.lastTranscriptSnippet === null || typeof c.lastTranscriptSnippet === "string", `${what}.lastTranscriptSnippet`);
  if (c.direction !== undefined) assert.ok(["inbound", "outbound"].includes(c.direction), `${what}.direction ${c.direction}`);
  if (ended === true || (ended === undefined && c.endedAt !== null)) {
    assertIso(c.endedAt, `${what}.endedAt`);
    assert.ok(Date.parse(c.endedAt) >= Date.parse(c.startedAt), `${what}: endedAt >= startedAt`);
    assert.ok(Number.isInteger(c.durationSeconds) && c.durationSeconds >= 0, `${what}.durationSeconds ${c.durationSeconds}`);
  } else {
    assert.equal(c.endedAt, null, `${what}.endedAt is null while live`);
    assert.equal(c.durationSeconds, null, `${what}.durationSeconds is null while live`);
  }
}

function assertTranscriptItemShape(t, what = "transcript item") {
  assert.equal(typeof t, "object");
  for (const k of TRANSCRIPT_KEYS) assert.ok(k in t, `${what} has ${k}: ${JSON.stringify(t)}`);
  assertCamelKeys(t, what);
  assert.equal(typeof t.id, "string");
  assert.ok(t.id.length > 0, `${what}.id is not empty`);
  assert.equal(typeof t.transcript, "string", `${what}.transcript`);
  assert.ok(t.response === null || typeof t.response === "string", `${what}.response string|null`);
  assert.equal(typeof t.confidence, "number", `${what}.confidence`);
  assert.ok(t.confidence >= 0 && t.confidence <= 1, `${what}.confidence in [0, 1]: ${t.confidence}`);
  assertIso(t.createdAt, `${what}.createdAt`);
  if (t.interrupted !== undefined) assert.equal(typeof t.interrupted, "boolean", `${what}.interrupted`);
}

// A call detail (calls.getCall, createOutboundCall, endCall): the summary
// fields plus transcripts[], oldest first.
function assertCallDetailShape(c, what = "call detail", opts = {}) {
  assertCallSummaryShape(c, what, opts);
  assert.ok(Array.isArray(c.transcripts), `${what}.transcripts is an array`);
  c.transcripts.forEach((t, i) => assertTranscriptItemShape(t, `${what}.transcripts[${i}]`));
  for (let i = 1; i < c.transcripts.length; ++i) {
    assert.ok(Date.parse(c.transcripts[i - 1].createdAt) <= Date.parse(c.transcripts[i].createdAt), `${what}: transcripts oldest first`);
  }
  assert.equal(new Set(c.transcripts.map((t) => t.id)).size, c.transcripts.length, `${what}: transcript ids are unique`);
}

// A {data, hasMore, total} call list (CallListResponse).
function assertCallListShape(res, what = "call list") {
  assert.equal(typeof res, "object");
  assert.ok(Array.isArray(res.data), `${what}.data is an array`);
  assert.equal(typeof res.hasMore, "boolean", `${what}.hasMore`);
  assert.ok(Number.isInteger(res.total) && res.total >= 0, `${what}.total ${res.total}`);
  res.data.forEach((c, i) => {
    assertCallSummaryShape(c, `${what}.data[${i}]`);
    assert.ok(!("transcripts" in c), `${what}.data[${i}] is a summary, without transcripts`);
  });
  for (let i = 1; i < res.data.length; ++i) {
    assert.ok(Date.parse(res.data[i - 1].startedAt) >= Date.parse(res.data[i].startedAt), `${what}: newest first`);
  }
}

// [transcript, response] pairs of a transcript, for comparing conversations.
const turnsOf = (items) => items.map((t) => [t.transcript, t.response]);

describe("official agentphone SDK: calls", { timeout: 55_000 }, () => {
  const ALICE = "+14155552671";
  const CALLEE = "+14155550177";
  const GREETING = "Hello, Acme Plumbing here. How can I help?";

  let tmp;
  let srv;
  let baseUrl;
  let client; // account A
  let clientB; // account B
  let agentA; // A's hosted agent; numA is attached to it
  let numA;
  let agentB; // B's webhook-mode agent, without any webhook; numB is attached to it
  let numB;
  let outboundId; // A's outbound call, placed through the SDK
  let inboundId; // A's inbound call, placed through /sim/calls

  async function sim(method, path, body) {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  }

  // The simulated party on call `id` says `text`; returns the sandbox's answer.
  async function say(id, text) {
    const r = await sim("POST", `/sim/calls/${id}/say`, { text });
    assert.equal(r.status, 200, `sim/calls/${id}/say: ${JSON.stringify(r.body)}`);
    assert.ok(Array.isArray(r.body.said), `say answers said[]: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "agentphone-sdk-call-"));
    const dataDir = join(tmp, "data");
    const a = createAccount(dataDir, "sdk-call-a@example.com");
    const b = createAccount(dataDir, "sdk-call-b@example.com");
    srv = await startServer(dataDir, join(tmp, "port"));
    baseUrl = srv.baseUrl;
    client = new AgentPhoneClient({ token: a.apiKey, baseUrl, timeoutInSeconds: 10 });
    clientB = new AgentPhoneClient({ token: b.apiKey, baseUrl, timeoutInSeconds: 10 });

    agentA = await client.agents.createAgent({
      name: "Plumbing desk",
      voiceMode: AgentPhone.CreateAgentRequest.VoiceMode.Hosted,
      systemPrompt: "You are the receptionist of a plumbing company.",
      beginMessage: GREETING,
    });
    numA = await client.numbers.createNumber({ areaCode: "415", agentId: agentA.id });
    assert.equal(numA.agentId, agentA.id);
    agentB = await clientB.agents.createAgent({ name: "B webhook desk", voiceMode: "webhook" });
    numB = await clientB.numbers.createNumber({ areaCode: "415", agentId: agentB.id });
    assert.equal(numB.agentId, agentB.id);
  });

  after(async () => {
    try {
      await stopServer(srv);
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("calls.listCalls, agents.listAgentCalls and calls.listCallsForNumber are empty before any call", async () => {
    for (const [what, res] of [
      ["calls.listCalls", await client.calls.listCalls()],
      ["agents.listAgentCalls", await client.agents.listAgentCalls({ agent_id: agentA.id })],
      ["calls.listCallsForNumber", await client.calls.listCallsForNumber({ number_id: numA.id })],
    ]) {
      assertCallListShape(res, what);
      assert.deepEqual(res, { data: [], hasMore: false, total: 0 }, what);
    }
  });

  it("calls.createOutboundCall places a hosted call that the sandbox callee answers at once", async () => {
    const res = await client.calls.createOutboundCall({
      agentId: agentA.id,
      toNumber: "+1 (415) 555-0177",
      initialGreeting: "Hi {{name}}, this is Acme calling about your {{thing}}.",
      variables: { name: "Ada", thing: "boiler" },
    });
    assertCallDetailShape(res, "created call", { ended: false });
    assert.equal(res.status, "in-progress", "answered by the simulated callee");
    assert.equal(res.direction, "outbound");
    assert.equal(res.agentId, agentA.id);
    assert.equal(res.phoneNumberId, numA.id, "defaults to the agent's first number");
    assert.equal(res.phoneNumber, numA.phoneNumber);
    assert.equal(res.fromNumber, numA.phoneNumber);
    assert.equal(res.toNumber, CALLEE, "toNumber is normalised to E.164");
    assert.ok(Math.abs(Date.now() - Date.parse(res.startedAt)) < 60_000, `startedAt is now: ${res.startedAt}`);
    assert.deepEqual(
      turnsOf(res.transcripts),
      [["", "Hi Ada, this is Acme calling about your boiler."]],
      "the greeting, with its variables filled, is the first transcript item",
    );
    outboundId = res.id;
  });

  it("the callee talks through /sim/calls/{id}/say; calls.getCall and calls.getCallTranscript show the turns", async () => {
    const turn = await say(outboundId, "Yes, the boiler is leaking");
    assert.deepEqual(turn.said, [{ text: "You said: Yes, the boiler is leaking. How else can I help?", interim: false }]);
    assert.equal(turn.hangup, false);
    assert.equal(turn.status, "in-progress");

    const call = await client.calls.getCall({ call_id: outboundId });
    assertCallDetailShape(call, "live call", { ended: false });
    assert.equal(call.id, outboundId);
    assert.equal(call.status, "in-progress");
    assert.equal(call.lastTranscriptSnippet, "Yes, the boiler is leaking");
    assert.deepEqual(turnsOf(call.transcripts), [
      ["", "Hi Ada, this is Acme calling about your boiler."],
      ["Yes, the boiler is leaking", "You said: Yes, the boiler is leaking. How else can I help?"],
    ]);
    assert.equal(call.transcripts[1].confidence, 0.95, "the sandbox's default confidence");
    assert.equal(call.transcripts[1].interrupted ?? false, false);

    const transcript = await client.calls.getCallTranscript({ call_id: outboundId });
    assert.deepEqual(Object.keys(transcript), ["data"], "the transcript is {data: [...]}");
    assert.ok(Array.isArray(transcript.data));
    transcript.data.forEach((t, i) => assertTranscriptItemShape(t, `transcript.data[${i}]`));
    assert.deepEqual(transcript.data, call.transcripts, "the same items as the call's transcripts");
  });

  it("the outbound call shows up in calls.listCalls, agents.listAgentCalls and calls.listCallsForNumber", async () => {
    const detail = await client.calls.getCall({ call_id: outboundId });
    const { transcripts, ...summary } = detail;
    assert.ok(Array.isArray(transcripts));

    const res = await client.calls.listCalls();
    assertCallListShape(res, "calls.listCalls");
    assert.equal(res.total, 1);
    assert.equal(res.hasMore, false);
    assert.deepEqual(res.data, [summary], "the list's summary is the detail without its transcripts");

    const byAgent = await client.agents.listAgentCalls({ agent_id: agentA.id });
    assertCallListShape(byAgent, "agents.listAgentCalls");
    assert.deepEqual(byAgent, res);
    const byNumber = await client.calls.listCallsForNumber({ number_id: numA.id });
    assertCallListShape(byNumber, "calls.listCallsForNumber");
    assert.deepEqual(byNumber, res);

    // The SDK's filters: status, direction, search.
    const live = await client.calls.listCalls({ status: "in-progress" });
    assert.deepEqual(
      live.data.map((c) => c.id),
      [outboundId],
    );
    assert.equal((await client.calls.listCalls({ status: "completed" })).total, 0);
    assert.equal((await client.calls.listCalls({ direction: "outbound" })).total, 1);
    assert.equal((await client.calls.listCalls({ direction: "inbound" })).total, 0);
    const found = await client.calls.listCalls({ search: CALLEE.slice(2) });
    assert.deepEqual(
      found.data.map((c) => c.id),
      [outboundId],
    );
    assert.equal((await client.calls.listCalls({ search: "9999999" })).total, 0);
    await expectSdkError(client.calls.listCalls({ direction: "sideways" }), 422, AgentPhone.UnprocessableEntityError);
  });

  // ListCallsV1CallsGetRequest declares `type` ("Filter by type: pstn, web").
  // Every call here is a phone call, so type=web must list none of them.
  it(
    "calls.listCalls honours the SDK's type filter (pstn, web)",
    async () => {
      const pstn = await client.calls.listCalls({ type: "pstn" });
      assert.deepEqual(
        pstn.data.map((c) => c.id),
        [outboundId],
      );
      const web = await client.calls.listCalls({ type: "web" });
      assert.equal(web.total, 0, `type=web lists no phone call: ${JSON.stringify(web.data.map((c) => c.id))}`);
      assert.deepEqual(web.data, []);
    },
  );

  it("calls.endCall ends the live call as completed; a second end is a 409", async () => {
    const res = await client.calls.endCall({ call_id: outboundId });
    assertCallDetailShape(res, "ended call", { ended: true });
    assert.equal(res.id, outboundId);
    assert.equal(res.status, "completed");
    assert.equal(res.disconnectionReason, "agent_hangup");
    assert.equal(res.transcripts.length, 2, "ending keeps the transcript");

    const got = await client.calls.getCall({ call_id: outboundId });
    assertCallDetailShape(got, "ended call (GET)", { ended: true });
    assert.deepEqual(got, res, "the end is persisted");
    const list = await client.calls.listCalls({ status: "completed" });
    assert.deepEqual(
      list.data.map((c) => c.id),
      [outboundId],
    );
    assert.equal(list.data[0].endedAt, res.endedAt);
    assert.equal(list.data[0].durationSeconds, res.durationSeconds);

    const again = await expectSdkError(client.calls.endCall({ call_id: outboundId }), 409);
    assertErrorBody(again);
    assert.equal(again.body.error.code, "CALL_NOT_LIVE");
    const r = await sim("POST", `/sim/calls/${outboundId}/say`, { text: "hello?" });
    assert.equal(r.status, 409, "the callee cannot talk on an ended call");
  });

  it("an inbound call from /sim/calls is read through the SDK", async () => {
    const dialled = await sim("POST", "/sim/calls", { from: ALICE, to: numA.phoneNumber });
    assert.equal(dialled.status, 200, `sim/calls: ${JSON.stringify(dialled.body)}`);
    assert.match(dialled.body.callId, /^call_/);
    assert.equal(dialled.body.status, "in-progress");
    assert.deepEqual(dialled.body.said, [{ text: GREETING, interim: false }], "the agent's beginMessage greets");
    inboundId = dialled.body.callId;

    const live = await client.calls.getCall({ call_id: inboundId });
    assertCallDetailShape(live, "inbound call", { ended: false });
    assert.equal(live.direction, "inbound");
    assert.equal(live.status, "in-progress");
    assert.equal(live.agentId, agentA.id);
    assert.equal(live.phoneNumberId, numA.id);
    assert.equal(live.phoneNumber, numA.phoneNumber);
    assert.equal(live.fromNumber, ALICE);
    assert.equal(live.toNumber, numA.phoneNumber);
    assert.deepEqual(turnsOf(live.transcripts), [["", GREETING]]);

    const t1 = await say(inboundId, "What are your opening hours?");
    assert.deepEqual(t1.said, [{ text: "You said: What are your opening hours?. How else can I help?", interim: false }]);
    assert.equal(t1.status, "in-progress");
    const t2 = await say(inboundId, "Thanks, goodbye");
    assert.deepEqual(t2.said, [{ text: "Thank you for calling. Goodbye!", interim: false }]);
    assert.equal(t2.hangup, true);
    assert.equal(t2.status, "completed");

    const ended = await client.calls.getCall({ call_id: inboundId });
    assertCallDetailShape(ended, "ended inbound call", { ended: true });
    assert.equal(ended.status, "completed");
    assert.equal(ended.disconnectionReason, "agent_hangup", "the hosted responder said goodbye");
    assert.equal(ended.lastTranscriptSnippet, "Thanks, goodbye");
    assert.deepEqual(turnsOf(ended.transcripts), [
      ["", GREETING],
      ["What are your opening hours?", "You said: What are your opening hours?. How else can I help?"],
      ["Thanks, goodbye", "Thank you for calling. Goodbye!"],
    ]);
    const transcript = await client.calls.getCallTranscript({ call_id: inboundId });
    assert.deepEqual(transcript.data, ended.transcripts);

    // Both calls are listed, newest first, with offset paging and filters.
    const all = await client.calls.listCalls();
    assertCallListShape(all);
    assert.equal(all.total, 2);
    assert.equal(all.hasMore, false);
    assert.deepEqual(
      all.data.map((c) => c.id),
      [inboundId, outboundId],
    );
    const page2 = await client.calls.listCalls({ offset: 1 });
    assert.equal(page2.total, 2);
    assert.equal(page2.hasMore, false);
    assert.deepEqual(
      page2.data.map((c) => c.id),
      [outboundId],
    );
    const first = await client.calls.listCalls({}, { queryParams: { limit: 1 } });
    assert.equal(first.hasMore, true);
    assert.deepEqual(
      first.data.map((c) => c.id),
      [inboundId],
    );
    const inbound = await client.calls.listCalls({ direction: "inbound" });
    assert.deepEqual(
      inbound.data.map((c) => c.id),
      [inboundId],
    );
    assert.equal((await client.calls.listCalls({ search: ALICE.slice(2) })).total, 1);
    await expectSdkError(client.calls.listCalls({ offset: -1 }), 422, AgentPhone.UnprocessableEntityError);

    const byAgent = await client.agents.listAgentCalls({ agent_id: agentA.id, limit: 1 });
    assertCallListShape(byAgent, "agents.listAgentCalls");
    assert.equal(byAgent.total, 2);
    assert.equal(byAgent.hasMore, true);
    assert.deepEqual(
      byAgent.data.map((c) => c.id),
      [inboundId],
    );
    const byNumber = await client.calls.listCallsForNumber({ number_id: numA.id, limit: 1, offset: 1 });
    assertCallListShape(byNumber, "calls.listCallsForNumber");
    assert.equal(byNumber.total, 2);
    assert.equal(byNumber.hasMore, false);
    assert.deepEqual(
      byNumber.data.map((c) => c.id),
      [outboundId],
    );
    await expect422On(client.agents.listAgentCalls({ agent_id: agentA.id, limit: 0 }), "limit");
  });

  it("a webhook-mode agent without a webhook cannot call, unless systemPrompt makes the call hosted", async () => {
    const refused = await expectSdkError(clientB.calls.createOutboundCall({ agentId: agentB.id, toNumber: CALLEE }), 400);
    assertErrorBody(refused);
    assert.equal(refused.body.error.code, "WEBHOOK_NOT_CONFIGURED");
    assert.equal((await clientB.calls.listCalls()).total, 0, "a refused call is not created");

    const res = await clientB.calls.createOutboundCall({
      agentId: agentB.id,
      toNumber: CALLEE,
      fromNumberId: numB.id,
      systemPrompt: "You confirm appointments.",
      modelTier: AgentPhone.CreateOutboundCallRequest.ModelTier.Turbo,
    });
    assertCallDetailShape(res, "hosted-by-prompt call", { ended: false });
    assert.equal(res.status, "in-progress");
    assert.equal(res.agentId, agentB.id);
    assert.equal(res.phoneNumberId, numB.id);
    assert.equal(res.fromNumber, numB.phoneNumber);
    assert.equal(res.toNumber, CALLEE);
    if (res.voiceMode !== undefined) assert.equal(res.voiceMode, "hosted");
    const turn = await say(res.id, "Is this about Tuesday?");
    assert.deepEqual(turn.said, [{ text: "You said: Is this about Tuesday?. How else can I help?", interim: false }]);

    const ended = await clientB.calls.endCall({ call_id: res.id });
    assertCallDetailShape(ended, "ended hosted-by-prompt call", { ended: true });
    assert.equal(ended.status, "completed");
    const listB = await clientB.calls.listCalls();
    assert.deepEqual(
      listB.data.map((c) => c.id),
      [res.id],
    );
    assert.equal((await client.calls.listCalls()).total, 2, "A's list is unchanged");
  });

  it("errors: unknown and foreign calls are 404, bad requests are 422, through the SDK", async () => {
    for (const id of ["call_doesnotexist", outboundId]) {
      const c = id === outboundId ? clientB : client;
      assertErrorBody(await expectSdkError(c.calls.getCall({ call_id: id }), 404));
      assertErrorBody(await expectSdkError(c.calls.getCallTranscript({ call_id: id }), 404));
      assertErrorBody(await expectSdkError(c.calls.endCall({ call_id: id }), 404));
    }
    // A foreign live call cannot be ended either: place one on B and try from A.
    const liveB = await clientB.calls.createOutboundCall({ agentId: agentB.id, toNumber: CALLEE, systemPrompt: "Hi." });
    await expectSdkError(client.calls.endCall({ call_id: liveB.id }), 404);
    assert.equal((await clientB.calls.getCall({ call_id: liveB.id })).status, "in-progress", "A's end did not land");
    await clientB.calls.endCall({ call_id: liveB.id });

    await expectSdkError(clientB.agents.listAgentCalls({ agent_id: agentA.id }), 404);
    await expectSdkError(clientB.calls.listCallsForNumber({ number_id: numA.id }), 404);
    await expectSdkError(client.agents.listAgentCalls({ agent_id: "agt_doesnotexist" }), 404);
    await expectSdkError(client.calls.listCallsForNumber({ number_id: "num_doesnotexist" }), 404);
    await expectSdkError(clientB.calls.createOutboundCall({ agentId: agentA.id, toNumber: CALLEE, systemPrompt: "x" }), 404);
    await expectSdkError(client.calls.createOutboundCall({ agentId: "agt_doesnotexist", toNumber: CALLEE }), 404);
    await expectSdkError(client.calls.createOutboundCall({ agentId: agentA.id, toNumber: CALLEE, fromNumberId: numB.id }), 404);

    await expect422On(client.calls.createOutboundCall({ agentId: agentA.id, toNumber: "911" }), "toNumber");
    await expect422On(client.calls.createOutboundCall({ agentId: agentA.id, toNumber: "+442079460958" }), "toNumber");
    await expect422On(client.calls.createOutboundCall({ agentId: agentA.id }), "toNumber");
    await expect422On(client.calls.createOutboundCall({ toNumber: CALLEE }), "agentId");
    await expect422On(client.calls.createOutboundCall({ agentId: agentA.id, toNumber: CALLEE, modelTier: "huge" }), "modelTier");
    await expect422On(
      client.calls.createOutboundCall({ agentId: agentA.id, toNumber: CALLEE, variables: { n: 1 } }),
      "variables",
    );

    // Nothing refused left a call behind; B never sees A's calls.
    const listA = await client.calls.listCalls();
    assert.equal(listA.total, 2);
    assert.deepEqual(
      listA.data.map((c) => c.id),
      [inboundId, outboundId],
    );
    const listB = await clientB.calls.listCalls();
    assert.equal(listB.total, 2);
    assert.ok(!listB.data.some((c) => [inboundId, outboundId].includes(c.id)));
  });
  it("usage.*: the official SDK reads every usage endpoint, and the counters count these calls", async () => {
    const u = await client.usage.getUsage();
    assert.equal(u.plan.name, "payg");
    for (const k of ["numbers", "messagesPerMonth", "voiceMinutesPerMonth", "maxCallDurationMinutes", "concurrentCalls"]) {
      assert.equal(typeof u.plan.limits[k], "number", `plan.limits.${k}`);
    }
    for (const k of [
      "totalMessages", "messagesLast24h", "messagesLast7d", "messagesLast30d", "totalCalls", "callsLast24h",
      "callsLast7d", "callsLast30d", "totalWebhookDeliveries", "successfulWebhookDeliveries", "failedWebhookDeliveries",
    ]) {
      assert.equal(typeof u.stats[k], "number", `stats.${k}`);
    }
    assert.ok(u.stats.totalCalls >= 2, `totalCalls ${u.stats.totalCalls}`);
    assert.equal(u.numbers.limit, 10);
    assert.ok(!Number.isNaN(Date.parse(u.periodStart)) && !Number.isNaN(Date.parse(u.periodEnd)));
    const daily = await client.usage.getDailyUsage({ days: 3 });
    assert.equal(daily.days, 3);
    assert.equal(daily.data.length, 3);
    assert.ok(daily.data.at(-1).calls >= 2, "today's calls");
    for (const k of ["date", "messages", "calls", "webhooks", "voiceMinutes"]) assert.ok(k in daily.data[0], k);
    const monthly = await client.usage.getMonthlyUsage({ months: 2 });
    assert.equal(monthly.data.length, 2);
    const byNumber = await client.usage.getUsageByNumber();
    assert.ok(byNumber.data.some((n) => n.calls >= 1), JSON.stringify(byNumber.data));
    const byAgent = await client.usage.getUsageByAgent({ period: "month", tz: "Europe/Berlin" });
    assert.equal(byAgent.period, "month");
    assert.ok(Array.isArray(byAgent.data));
    await expectSdkError(client.usage.getUsageByAgent({ period: "decade" }), 422, AgentPhone.UnprocessableEntityError);
  });
  it("contacts.*: create, get, list with search, update, delete, capabilities, and the 409s", async () => {
    const created = await client.contacts.createContact({
      phoneNumber: "(650) 555-0142",
      name: "SDK Contact",
      email: "sdk@example.com",
    });
    assert.match(created.id, /^contact_/);
    assert.equal(created.phoneNumber, "+16505550142");
    assert.equal(created.email, "sdk@example.com");
    assert.equal(created.notes ?? null, null);
    assert.equal((await client.contacts.getContact({ contact_id: created.id })).name, "SDK Contact");
    await expectSdkError(
      client.contacts.createContact({ phoneNumber: "+16505550142", name: "Twin" }),
      409,
    );
    const listed = await client.contacts.listContacts({ limit: 10 });
    assert.ok(listed.data.some((c) => c.id === created.id));
    assert.equal(typeof listed.total, "number");
    assert.equal(typeof listed.hasMore, "boolean");
    const updated = await client.contacts.updateContact({ contact_id: created.id, notes: "from the SDK" });
    assert.equal(updated.notes, "from the SDK");
    assert.equal(updated.name, "SDK Contact");
    const caps = await client.contacts.getContactCapabilities({ phone_number: "+16505550142" });
    assert.deepEqual(caps.capabilities, { imessage: false, sms: true });
    // Account B sees none of it.
    await expectSdkError(clientB.contacts.getContact({ contact_id: created.id }), 404);
    await client.contacts.deleteContact({ contact_id: created.id });
    await expectSdkError(client.contacts.getContact({ contact_id: created.id }), 404);
    await expectSdkError(client.contacts.createContact({ phoneNumber: "nope", name: "X" }), 422, AgentPhone.UnprocessableEntityError);
  });
});
