// Drives matrix-js-sdk against a running homeserver: node client-core.mjs <baseUrl> <before|after> <stateFile>
// "before" registers users, creates a room, chats; "after" (run once the server restarted) checks
// nothing was lost and transaction IDs stay idempotent. Exits non-zero with a message on failure.
import "./node20.mjs";
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

  // Edit, react, reply in a thread, redact: the relations clients build on.
  const { event_id: edit } = await alice.sendEvent(roomId, "m.room.message", {
    msgtype: "m.text", body: "* hello there", "m.new_content": { msgtype: "m.text", body: "hello there" },
    "m.relates_to": { rel_type: "m.replace", event_id: hello },
  }, "txn-edit");
  const { event_id: reaction } = await bob.sendEvent(roomId, "m.reaction",
    { "m.relates_to": { rel_type: "m.annotation", event_id: hello, key: "👋" } }, "txn-react");
  const { event_id: threadReply } = await bob.sendEvent(roomId, "m.room.message",
    { msgtype: "m.text", body: "in a thread", "m.relates_to": { rel_type: "m.thread", event_id: hello } }, "txn-thread");
  const { event_id: oops } = await bob.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "oops" }, "txn-oops");
  await bob.redactEvent(roomId, oops, "txn-redact", { reason: "typo" });

  const relations = await alice.fetchRelations(roomId, hello, null, null, { limit: 10 });
  const related = relations.chunk.map((e) => e.event_id);
  check([edit, reaction, threadReply].every((id) => related.includes(id)), "relations of the first message: edit, reaction, thread reply");
  const threads = await alice.createThreadListMessagesRequest(roomId, null, 10);
  check(threads.chunk.length === 1 && threads.chunk[0].event_id === hello, "the room's thread list has the root");
  const redacted = await alice.fetchRoomEvent(roomId, oops);
  check(Object.keys(redacted.content).length === 0 && redacted.unsigned.redacted_because, "the redacted message is served redacted");

  // Paginate backwards in pages of two until the start of the room.
  let from = null, pages = 0, seen = [];
  do {
    const page = await bob.createMessagesRequest(roomId, from, 2, sdk.Direction.Backward);
    seen.push(...page.chunk.map((e) => e.event_id));
    from = page.end;
    pages++;
  } while (from && pages < 50);
  check(seen.includes(hello) && seen.at(-1) !== undefined && new Set(seen).size === seen.length, "backward pagination visits every event once");

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

  // Invited to a "joined"-visibility room, Carol sees only what happens after she joins.
  await alice.sendStateEvent(state.roomId, "m.room.history_visibility", { history_visibility: "joined" }, "");
  const { event_id: beforeCarol } = await alice.sendEvent(state.roomId, "m.room.message", { msgtype: "m.text", body: "before carol" }, "txn-before-carol");
  await alice.invite(state.roomId, carol.getUserId());
  await carol.joinRoom(state.roomId);
  const { event_id: afterCarol } = await alice.sendEvent(state.roomId, "m.room.message", { msgtype: "m.text", body: "after carol" }, "txn-after-carol");
  const carolView = (await carol.createMessagesRequest(state.roomId, null, 100, sdk.Direction.Backward)).chunk.map((e) => e.event_id);
  // Visibility is the setting in force when each event was sent: "hello" went out under "shared".
  check(carolView.includes(afterCarol) && !carolView.includes(beforeCarol) && carolView.includes(state.hello),
    "history visibility 'joined' hides what happened before Carol joined, from the moment it was set");

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
