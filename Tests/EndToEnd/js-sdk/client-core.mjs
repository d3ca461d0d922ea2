// Drives matrix-js-sdk against a running homeserver: node client-core.mjs <baseUrl> <before|after> <stateFile>
// "before" registers users, creates a room, chats; "after" (run once the server restarted) checks
// nothing was lost and transaction IDs stay idempotent. Exits non-zero with a message on failure.
if (!Promise.withResolvers) {
  // matrix-js-sdk 43 targets Node 22; Node 20 lacks this.
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject };
  };
}
import { readFileSync, writeFileSync } from "node:fs";
const sdk = await import("matrix-js-sdk");
const [baseUrl, phase, stateFile] = process.argv.slice(2);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function register(name) {
  const client = sdk.createClient({ baseUrl });
  const res = await client.registerRequest({ username: name, password: "pw-" + name, auth: { type: "m.login.dummy" } });
  return sdk.createClient({ baseUrl, accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
}

async function login(name) {
  const client = sdk.createClient({ baseUrl });
  const res = await client.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: "pw-" + name });
  return sdk.createClient({ baseUrl, accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
}

async function before() {
  const suffix = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);
  const aliceName = "alice" + suffix, bobName = "bob" + suffix;
  await register(aliceName);
  const bob = await register(bobName);
  const alice = await login(aliceName);
  check((await alice.whoami()).user_id === alice.getUserId(), "whoami after login");

  const { room_id: roomId } = await alice.createRoom({ name: "js-sdk room", preset: "private_chat", invite: [bob.getUserId()] });
  await bob.joinRoom(roomId);
  const { event_id: hello } = await alice.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hello" }, "txn-hello");
  const again = await alice.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hello" }, "txn-hello");
  check(again.event_id === hello, "a repeated transaction ID returns the same event");
  const { event_id: reply } = await bob.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hi alice" }, "txn-reply");
  await alice.setDisplayName("Alice");

  writeFileSync(stateFile, JSON.stringify({
    roomId, hello, reply, alice: alice.getAccessToken(), aliceId: alice.getUserId(), bob: bob.getAccessToken(), suffix,
  }));
}

async function after() {
  const state = JSON.parse(readFileSync(stateFile, "utf8"));
  const alice = sdk.createClient({ baseUrl, accessToken: state.alice, userId: state.aliceId });
  const bob = sdk.createClient({ baseUrl, accessToken: state.bob });

  const again = await alice.sendEvent(state.roomId, "m.room.message", { msgtype: "m.text", body: "hello" }, "txn-hello");
  check(again.event_id === state.hello, "the transaction ID is still idempotent after the restart");

  const page = await bob.createMessagesRequest(state.roomId, null, 50, sdk.Direction.Backward);
  const ids = page.chunk.map((e) => e.event_id);
  check(ids.includes(state.hello) && ids.includes(state.reply), "history survives the restart");
  check(ids.indexOf(state.reply) < ids.indexOf(state.hello), "backwards pagination is newest first");
  const bodies = page.chunk.filter((e) => e.type === "m.room.message").map((e) => e.content.body);
  check(bodies.filter((b) => b === "hello").length === 1, "the message was stored once");
  const member = page.chunk.find((e) => e.type === "m.room.member" && e.state_key === state.aliceId && e.content.displayname === "Alice");
  check(member, "the profile change reached the room as a member event");

  const name = await bob.getStateEvent(state.roomId, "m.room.name", "");
  check(name.name === "js-sdk room", "room name state");

  const carol = await register("carol" + state.suffix);
  let refused = false;
  try {
    await carol.createMessagesRequest(state.roomId, null, 10, sdk.Direction.Backward);
  } catch (e) {
    refused = e.errcode === "M_FORBIDDEN" && e.httpStatus === 403;
  }
  check(refused, "a user outside the room cannot read its history");

  await bob.logout(true);
  let loggedOut = false;
  try {
    await bob.whoami();
  } catch (e) {
    loggedOut = e.errcode === "M_UNKNOWN_TOKEN";
  }
  check(loggedOut, "a logged-out token is refused");
}

try {
  if (phase === "before") await before();
  else await after();
  console.log(`${phase}: ok`);
} catch (e) {
  console.error(`${phase}: ${e.message ?? e}`);
  process.exit(1);
}
