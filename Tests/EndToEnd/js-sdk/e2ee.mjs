// End-to-end encryption between matrix-js-sdk clients with Rust crypto: node e2ee.mjs <baseUrl> [<bobBaseUrl>]
// With a second URL, Bob is a user of that other homeserver and everything below crosses federation.
// Alice and Bob bootstrap cross-signing and key backup, chat in an encrypted room and decrypt each
// other; typing and a read receipt cross between them; Alice's second device receives the room key
// of Bob's next message through to-device and decrypts it; Alice's backup holds her room keys.
// Exits non-zero with a message on failure.
import "./node20.mjs";
import { waitFor, until } from "./wait.mjs";
const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
logger.setLevel("error");
const [baseUrl, otherBaseUrl] = process.argv.slice(2);
const bobBaseUrl = otherBaseUrl?.startsWith("http") ? otherBaseUrl : baseUrl;
const suffix = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);
const password = "correct horse battery staple";



async function start(session, name, url = baseUrl) {
  const client = sdk.createClient({ baseUrl: url, accessToken: session.access_token, userId: session.user_id, deviceId: session.device_id });
  await client.initRustCrypto({ useIndexedDB: false });
  const prepared = waitFor(client, sdk.ClientEvent.Sync, (state) => state === "PREPARED", `${name}'s first sync`);
  await client.startClient({ initialSyncLimit: 20 });
  await prepared;
  return client;
}

async function bootstrap(client) {
  const crypto = client.getCrypto();
  await crypto.bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => {
      await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: client.getUserId() }, password });
    },
  });
  await crypto.resetKeyBackup();
  const status = await crypto.getCrossSigningStatus();
  if (!status.publicKeysOnDevice || !status.privateKeysCachedLocally.masterKey) throw new Error(`cross-signing did not bootstrap: ${JSON.stringify(status)}`);
}

async function decrypted(client, roomId, body, name) {
  const [event] = await waitFor(client, sdk.MatrixEventEvent.Decrypted,
    (e) => e.getRoomId() === roomId && !e.isDecryptionFailure() && e.getContent().body === body, `${name} to decrypt "${body}"`, 45000);
  if (event.getWireType() !== "m.room.encrypted") throw new Error(`"${body}" did not travel encrypted`);
}

try {
  const register = (name, url) => sdk.createClient({ baseUrl: url }).registerRequest({ username: name + suffix, password, auth: { type: "m.login.dummy" } });
  const alice = await start(await register("alice", baseUrl), "alice");
  const bob = await start(await register("bob", bobBaseUrl), "bob", bobBaseUrl);
  await bootstrap(alice);
  await bootstrap(bob);

  const { room_id: roomId } = await alice.createRoom({
    name: "secret",
    invite: [bob.getUserId()],
    initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
  });
  await until(() => bob.getRoom(roomId)?.getMyMembership() === "invite", "bob's invite");
  await bob.joinRoom(roomId);
  await until(() => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === "join", "alice to see bob join");
  await until(async () => (await bob.getCrypto().isEncryptionEnabledInRoom(roomId)), "bob to see the room encrypted");

  let seen = decrypted(bob, roomId, "hello bob, secretly", "bob");
  await alice.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hello bob, secretly" });
  await seen;
  seen = decrypted(alice, roomId, "hello alice, secretly", "alice");
  await bob.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hello alice, secretly" });
  await seen;

  // Typing from alice reaches bob; bob's read receipt reaches alice.
  const typing = waitFor(bob, sdk.RoomMemberEvent.Typing, (_e, member) => member.userId === alice.getUserId() && member.typing, "alice typing at bob");
  await alice.sendTyping(roomId, true, 10000);
  await typing;
  const lastFromAlice = bob.getRoom(roomId).getLiveTimeline().getEvents().filter((e) => e.getSender() === alice.getUserId()).at(-1);
  const receipt = waitFor(alice, sdk.RoomEvent.Receipt,
    (event) => event.getContent()[lastFromAlice.getId()]?.["m.read"]?.[bob.getUserId()] !== undefined, "bob's receipt at alice");
  await bob.sendReadReceipt(lastFromAlice);
  await receipt;

  // A new device of alice: bob's next message shares its room key with it over to-device.
  const second = await sdk.createClient({ baseUrl }).loginRequest({
    type: "m.login.password", identifier: { type: "m.id.user", user: alice.getUserId() }, password });
  const alice2 = await start(second, "alice's second device");
  await until(async () => (await bob.getCrypto().getUserDeviceInfo([alice.getUserId()], true)).get(alice.getUserId())?.has(second.device_id),
    "bob to learn alice's second device");
  seen = decrypted(alice2, roomId, "for every device of alice", "alice's second device");
  await bob.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "for every device of alice" });
  await seen;

  // Alice's first device backs up the room keys it holds.
  await until(async () => (await alice.http.authedRequest("GET", "/room_keys/version", undefined, undefined, { prefix: "/_matrix/client/v3" })).count > 0,
    "alice's room keys in the backup");

  for (const c of [alice, bob, alice2]) c.stopClient();
  console.log("e2ee: ok");
  process.exit(0);
} catch (e) {
  console.error(e?.stack ?? String(e));
  process.exit(1);
}
