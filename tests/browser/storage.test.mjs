/*
 * Real-browser test of the dashboard's Storage section (storage.js):
 * Playwright (playwright-core) drives Debian's /usr/bin/chromium,
 * headless, against the `tisbackup serve` started by
 * tests/integration/test_diskusage.sh. Prints TAP lines ("ok N - ...").
 *
 * Environment:
 *   TB_URL        base URL of the server
 *   TB_ADMIN      user name; TB_ADMIN_PW its password
 *   TB_JOB        the job with disk-usage figures
 *   TB_SNAPSHOTS  how many snapshots it has
 *   TB_SAMPLES    how many daily samples the chart must draw
 *   TB_FULL_DAY   the day the forecast says the filesystem is full
 *   TB_SHOT_DIR   where to save the screenshot
 *   TB_CHROMIUM   the browser (default /usr/bin/chromium)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (k, d) => {
	const v = process.env[k] ?? d;
	if (v === undefined) {
		console.log(`Bail out! ${k} is not set`);
		process.exit(1);
	}
	return v;
};
const BASE = env('TB_URL');
const JOB = env('TB_JOB');
const SNAPS = env('TB_SNAPSHOTS');
const SAMPLES = Number(env('TB_SAMPLES'));
const FULL = env('TB_FULL_DAY');
const SHOTS = env('TB_SHOT_DIR', os.tmpdir());

let n = 0;
let failed = 0;
function ok(cond, desc, ...diag) {
	n++;
	if (cond) console.log(`ok ${n} - ${desc}`);
	else {
		failed++;
		console.log(`not ok ${n} - ${desc}`);
		for (const d of diag) for (const line of String(d).split('\n')) console.log(`# ${line}`);
	}
	return cond;
}
async function step(desc, fn) {
	try {
		const r = await fn();
		if (typeof r === 'string') return ok(false, desc, r);
		return ok(r !== false, desc);
	} catch (e) {
		return ok(false, desc, e.message.split('\n').slice(0, 8).join('\n'));
	}
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
	executablePath: env('TB_CHROMIUM', '/usr/bin/chromium'),
	headless: true,
	viewport: { width: 1280, height: 900 },
	args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
ctx.setDefaultTimeout(15000);
const page = ctx.pages()[0] || (await ctx.newPage());
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

try {
	await step('log in', async () => {
		await page.goto(`${BASE}/login`);
		await page.fill('#username', env('TB_ADMIN'));
		await page.fill('#password', env('TB_ADMIN_PW'));
		await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('#login-form button[type=submit]')]);
		return true;
	});
	await step('the dashboard has a Storage section with a row for the job', async () => {
		await page.goto(`${BASE}/#/`);
		await page.waitForSelector(`#storage tr[data-storage-job="${JOB}"]`);
		const cells = await page.locator(`#storage tr[data-storage-job="${JOB}"] td`).allTextContents();
		return cells[1] === SNAPS || `cells: ${cells.join(' | ')}`;
	});
	await step('the filesystem bar has a share for the job', async () => {
		const title = await page.locator('#storage .su-bar .su-c0').getAttribute('title');
		return title.startsWith(`${JOB}: `) || `title: ${title}`;
	});
	await step('the forecast names the day the filesystem is full', async () => {
		const t = await page.textContent('#storage-forecast');
		return t.includes(`Full on ${FULL}`) || `forecast: ${t}`;
	});
	await step('the chart draws one point per daily sample and the projection', async () => {
		const pts = await page.locator('#storage svg.su-chart .chart-points circle').count();
		const proj = await page.locator('#storage svg.su-chart line.su-projection').count();
		return (pts === SAMPLES && proj === 1) || `${pts} points, ${proj} projection lines`;
	});
	await step('the page raised no script error', async () => problems.length === 0 || problems.join('\n'));
	await page.locator('#storage h2').scrollIntoViewIfNeeded();
	await page.screenshot({ path: path.join(SHOTS, 'browser-storage.png'), fullPage: false });
} catch (e) {
	ok(false, 'browser session', e.stack || e.message);
} finally {
	await ctx.close().catch(() => {});
	fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
