// matrix-js-sdk's own sync loop against a running homeserver: node sync.mjs <baseUrl>
// Bob runs startClient(); Alice invites him; his client sees the invite, joins, and receives
// Alice's message through /sync. Exits non-zero with a message on failure.
import "./node20.mjs";
import { waitFor } from "./wait.mjs";
const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
logger.setLevel("error");
const [baseUrl] = process.argv.slice(2);
const suffix = Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);

async function register(name) {
  const res = await sdk.createClient({ baseUrl }).registerRequest({ username: name, password: "pw", auth: { type: "m.login.dummy" } });
  return sdk.createClient({ baseUrl, accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
}


try {
  const alice = await register("alice" + suffix);
  const bob = await register("bob" + suffix);
  const prepared = waitFor(bob, sdk.ClientEvent.Sync, (state) => state === "PREPARED", "bob's first sync");
  await bob.startClient({ initialSyncLimit: 10 });
  await prepared;

  const invited = waitFor(bob, sdk.RoomMemberEvent.Membership, (_e, member) => member.userId === bob.getUserId() && member.membership === "invite",
    "the invite to reach bob's client");
  const { room_id: roomId } = await alice.createRoom({ name: "synced", invite: [bob.getUserId()] });
  await invited;
  await bob.joinRoom(roomId);

  const received = waitFor(bob, sdk.RoomEvent.Timeline, (event) => event.getType() === "m.room.message" && event.getContent().body === "hello over sync",
    "alice's message in bob's timeline");
  await alice.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hello over sync" });
  await received;

  const room = bob.getRoom(roomId);
  if (!room || room.name !== "synced") throw new Error(`bob's client does not know the room name (${room?.name})`);
  bob.stopClient();
  console.log("sync: ok");
  process.exit(0);
} catch (e) {
  console.error(`sync: ${e.message ?? e}`);
  process.exit(1);
}
