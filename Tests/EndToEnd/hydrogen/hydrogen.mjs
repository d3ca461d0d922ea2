// Hydrogen in Debian's Chromium against a homeserver:
//   node hydrogen.mjs <homeserver base URL> <username> <password> <room name> <message>
// Logs in as an existing user, creates an unencrypted room, sends <message> and waits until the
// room's timeline in the page shows it as sent. Prints the homeserver traffic and "RESULT {json}"
// (the room ID from Hydrogen's URL, the text of the message tile, the number of CORS pre-flights)
// and exits 0; on failure prints the browser console, the
// homeserver traffic, a DOM snippet and a screenshot path, and exits 1.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { serveHydrogen } from "./serve.mjs";

const [homeserver, username, password, roomName, message] = process.argv.slice(2);
if (!message) {
    console.error("usage: node hydrogen.mjs <homeserver> <username> <password> <room name> <message>");
    process.exit(2);
}
const stepTimeout = 60_000;
const consoleLines = [];
const traffic = [];
let browser, page, app, profile, failing = false;

const watchdog = setTimeout(() => fail(new Error("the browser run took longer than 150 s")), 150_000);

try {
    app = await serveHydrogen(homeserver);
    profile = await mkdtemp(path.join(tmpdir(), "hydrogen-chromium-"));
    browser = await puppeteer.launch({
        executablePath: "/usr/bin/chromium",
        headless: true,
        userDataDir: profile,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    watch(page);

    await step("open the app", async () => {
        await page.goto(app.origin, { waitUntil: "load", timeout: stepTimeout });
    });
    await step("log in", async () => {
        // The password form appears once Hydrogen has read the login flows of config.json's homeserver.
        await page.waitForSelector("#username:not([disabled])", { timeout: stepTimeout });
        await page.type("#username", username);
        await page.type("#password", password);
        await page.click(".PasswordLoginView button[type=submit]");
        await page.waitForSelector(".SessionView .LeftPanel .button-utility.create", { timeout: stepTimeout });
    });
    await step("create the room", async () => {
        await page.click(".LeftPanel .button-utility.create");
        await page.click(".menu ::-p-text(Create Room)");
        await page.waitForSelector(".CreateRoomView #name", { timeout: stepTimeout });
        await page.type(".CreateRoomView #name", roomName);
        // Unencrypted, so that the test can read the message back over HTTP.
        if (await page.$eval("#isEncrypted", box => box.checked)) await page.click("#isEncrypted");
        await page.click(".CreateRoomView button[type=submit]");
        // The room list shows the room once sync has brought it back from the server.
        await page.waitForFunction(name => [...document.querySelectorAll(".RoomList .name")].some(n => n.textContent === name),
            { timeout: stepTimeout }, roomName);
    });
    await step("open the room", async () => {
        // This Hydrogen's create form navigates to "room/" without an ID (it reads the ID off the
        // promise Session.createRoom returns), so open the room from the list, as a user would.
        await page.evaluate(name => [...document.querySelectorAll(".RoomList li a")]
            .find(a => a.querySelector(".name")?.textContent === name).click(), roomName);
        await page.waitForFunction(name =>
            document.querySelector(".RoomView .middle-header")?.textContent.includes(name) &&
            document.querySelector(".RoomView .MessageComposer textarea") !== null,
            { timeout: stepTimeout }, roomName);
    });
    await step("send the message", async () => {
        await page.type(".RoomView .MessageComposer textarea", message);
        await page.keyboard.press("Enter");
    });
    let tile;
    await step("see the message in the timeline", async () => {
        // A local echo carries "unsent" until the server has accepted the event and sync brought it back.
        const handle = await page.waitForFunction(text => {
            const tiles = [...document.querySelectorAll(".RoomView .Timeline_message")];
            const sent = tiles.find(li => !li.classList.contains("unsent") &&
                li.querySelector(".Timeline_messageBody")?.textContent.includes(text));
            return sent ? sent.querySelector(".Timeline_messageBody").textContent : false;
        }, { timeout: stepTimeout }, message);
        tile = await handle.jsonValue();
    });
    const hash = await page.evaluate(() => decodeURIComponent(location.hash));
    const roomId = /\/room\/(![^/]+)/.exec(hash)?.[1];
    if (!roomId) throw new Error(`no room ID in Hydrogen's URL ${hash}`);
    console.log(`--- homeserver traffic\n${traffic.join("\n")}`);
    // Chromium's CORS pre-flights to the homeserver: the app's origin is not the homeserver's.
    const preflights = traffic.filter(line => /^OPTIONS .* -> 200/.test(line)).length;
    console.log(`RESULT ${JSON.stringify({ roomId, tile, origin: app.origin, preflights })}`);
    await close();
    process.exit(0);
} catch (error) {
    await fail(error);
}

async function step(name, action) {
    try {
        await action();
        console.log(`ok: ${name}`);
    } catch (error) {
        throw new Error(`step "${name}" failed: ${error.message}`);
    }
}

function watch(page) {
    page.on("console", msg => consoleLines.push(`[${msg.type()}] ${msg.text()}`));
    page.on("pageerror", error => consoleLines.push(`[pageerror] ${error.message}`));
    page.on("requestfailed", request =>
        traffic.push(`${request.method()} ${request.url()} FAILED ${request.failure()?.errorText}`));
    page.on("response", async response => {
        const request = response.request();
        if (!request.url().startsWith(homeserver)) {
            if (response.status() >= 400) traffic.push(`${request.method()} ${request.url()} -> ${response.status()} (app)`);
            return;
        }
        let line = `${request.method()} ${request.url()} -> ${response.status()}`;
        if (response.status() >= 400) {
            const body = request.postData();
            if (body) line += `\n    request: ${body.slice(0, 2000)}`;
            line += `\n    answer: ${(await response.text().catch(() => "(no body)")).slice(0, 2000)}`;
        }
        traffic.push(line);
    });
}

async function fail(error) {
    if (failing) return;
    failing = true;
    console.error(`FAILED: ${error.stack ?? error}`);
    console.error(`--- browser console (last 200 lines)\n${consoleLines.slice(-200).join("\n")}`);
    console.error(`--- homeserver traffic (last 150)\n${traffic.slice(-150).join("\n")}`);
    if (page) {
        try {
            const shot = path.join(tmpdir(), `hydrogen-failure-${Date.now()}.png`);
            await page.screenshot({ path: shot, fullPage: true });
            console.error(`--- screenshot: ${shot}`);
            console.error(`--- URL: ${page.url()}`);
            console.error(`--- visible text\n${(await page.evaluate(() => document.body.innerText)).slice(0, 3000)}`);
            console.error(`--- DOM\n${(await page.evaluate(() => document.getElementById("app")?.outerHTML ?? document.documentElement.outerHTML)).slice(0, 6000)}`);
        } catch (inner) {
            console.error(`(could not read the page: ${inner.message})`);
        }
    }
    await close();
    process.exit(1);
}

async function close() {
    clearTimeout(watchdog);
    await browser?.close().catch(() => {});
    await app?.close().catch(() => {});
    if (profile) await rm(profile, { recursive: true, force: true }).catch(() => {});
}
