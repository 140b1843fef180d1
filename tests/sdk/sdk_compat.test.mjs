// Compatibility test: drives our server with the official AgentPhone Node SDK
// (npm package `agentphone`, pinned in package.json) and checks that every
// agents/numbers SDK method we implement round-trips and parses.
//
// Run through run.sh, or: AGENTPHONE_BIN=/path/to/agentphone node --test sdk_compat.test.mjs

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("official agentphone SDK against our server", { timeout: 55_000 }, () => {
  let tmp;
  let server;
  let serverLog = "";
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

    const portFile = join(tmp, "port");
    server = spawn(BIN, ["serve", "--data-dir", dataDir, "--port", "0", "--port-file", portFile], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout.on("data", (d) => (serverLog += d));
    server.stderr.on("data", (d) => (serverLog += d));
    let exited = false;
    server.on("exit", () => (exited = true));

    let port = "";
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !exited) {
      if (existsSync(portFile)) {
        port = readFileSync(portFile, "utf8").trim();
        if (/^\d+$/.test(port) && Number(port) > 0) break;
      }
      await sleep(50);
    }
    assert.ok(/^\d+$/.test(port) && Number(port) > 0, `server did not write its port; log:\n${serverLog}`);
    baseUrl = `http://127.0.0.1:${port}`;

    client = new AgentPhoneClient({ token: acctA.apiKey, baseUrl, timeoutInSeconds: 10 });
    clientB = new AgentPhoneClient({ token: acctB.apiKey, baseUrl, timeoutInSeconds: 10 });
  });

  after(async () => {
    try {
      if (server && server.exitCode === null && server.signalCode === null) {
        const done = new Promise((r) => server.once("exit", (code, signal) => r([code, signal])));
        server.kill("SIGTERM");
        // Escalate to SIGKILL if it has not stopped in 10 s; unref'd so the
        // timer never keeps the test process alive after a prompt exit.
        const killer = setTimeout(() => server.kill("SIGKILL"), 10_000);
        killer.unref();
        const [code, signal] = await done;
        clearTimeout(killer);
        assert.equal(signal, null, `server should stop on SIGTERM by itself; log:\n${serverLog}`);
        assert.equal(code, 0, `server exit code after SIGTERM; log:\n${serverLog}`);
      }
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
