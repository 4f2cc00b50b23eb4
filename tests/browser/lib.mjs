/*
 * What every browser test script shares: its settings from the
 * environment, TAP output ("ok N - ...", a plan at the end), a headless
 * Chromium (Debian's, through playwright-core) in a throw-away profile,
 * and logging in to `tisbackup serve`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

/* The variable k, else d; neither: the script bails out. */
export function env(k, d) {
	const v = process.env[k] ?? d;
	if (v === undefined) {
		console.log(`Bail out! ${k} is not set`);
		process.exit(1);
	}
	return v;
}

let n = 0;
let failed = 0;

/* One TAP point; diag lines follow a failed one as comments. */
export function ok(cond, desc, ...diag) {
	n++;
	if (cond) console.log(`ok ${n} - ${desc}`);
	else {
		failed++;
		console.log(`not ok ${n} - ${desc}`);
		for (const d of diag) for (const line of String(d).split('\n')) console.log(`# ${line}`);
	}
	return cond;
}

/*
 * Run fn as one point: false fails it, a string fails it with the string
 * as diagnostic, a thrown error fails it with the error's first lines.
 */
export async function step(desc, fn) {
	try {
		const r = await fn();
		if (typeof r === 'string') return ok(false, desc, r);
		return ok(r !== false, desc);
	} catch (e) {
		return ok(false, desc, e.message.split('\n').slice(0, 8).join('\n'));
	}
}

/*
 * A headless Chromium (TB_CHROMIUM, default /usr/bin/chromium) with a new
 * profile, every call waiting at most timeout ms: { ctx, page, problems },
 * problems collecting the page's script errors.
 */
export async function launch(timeout) {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-chromium-'));
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath: env('TB_CHROMIUM', '/usr/bin/chromium'),
		headless: true,
		viewport: { width: 1280, height: 900 },
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	ctx.setDefaultTimeout(timeout);
	const page = ctx.pages()[0] || (await ctx.newPage());
	const problems = [];
	page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
	const close = async () => {
		await ctx.close().catch(() => {});
		fs.rmSync(profile, { recursive: true, force: true });
	};
	return { ctx, page, problems, close };
}

/* Log in on base's login page as user; resolves once it has left /login. */
export async function login(page, base, user, pw) {
	await page.goto(`${base}/login`);
	await page.fill('#username', user);
	await page.fill('#password', pw);
	await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('#login-form button[type=submit]')]);
}

/* The plan, and the exit code: 1 when a point failed. */
export function done() {
	console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
}
