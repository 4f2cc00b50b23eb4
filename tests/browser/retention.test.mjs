/*
 * Real-browser test of the job page's Retention table: Playwright
 * (playwright-core) drives Debian's /usr/bin/chromium, headless, against
 * the `tisbackup serve` started by tests/integration/test_retention_gfs.sh
 * over its 400 synthetic snapshots. Prints TAP lines ("ok N - ...").
 *
 * Environment:
 *   TB_URL        base URL of the server
 *   TB_ADMIN      user name; TB_ADMIN_PW its password
 *   TB_JOB        the job (a GFS policy)
 *   TB_ROWS       how many backups the table must list
 *   TB_KEEP       how many of them are kept
 *   TB_KEEP_LIST  the kept snapshot names, one a line
 *   TB_INUSE      the name of the snapshot a running export reads
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
const ROWS = Number(env('TB_ROWS'));
const KEEP = Number(env('TB_KEEP'));
const KEEP_LIST = env('TB_KEEP_LIST').split('\n').filter(Boolean).sort();
const INUSE = env('TB_INUSE');
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
	await step('the job page shows a Retention table with one row per backup', async () => {
		await page.goto(`${BASE}/#/job/${encodeURIComponent(JOB)}`);
		await page.waitForSelector('#retention table.retention tbody tr');
		const rows = await page.locator('#retention table.retention tbody tr').count();
		return rows === ROWS || `${rows} rows, want ${ROWS}`;
	});
	await step('the policy is stated above the table', async () => {
		const t = await page.textContent('#retention-policy');
		return /keep_daily 7, keep_weekly 4, keep_monthly 12, keep_yearly 3/.test(t) || `policy text: ${t}`;
	});
	await step('exactly the kept backups are marked keep', async () => {
		const locs = await page.locator('#retention tr.retention-keep td[data-label=Location]').allTextContents();
		const names = locs.map((l) => l.split('/').pop()).sort();
		if (names.length !== KEEP) return `${names.length} kept, want ${KEEP}`;
		return JSON.stringify(names) === JSON.stringify(KEEP_LIST) || `kept: ${names.join(' ')}`;
	});
	await step('the snapshot read by a running export is kept as in use', async () => {
		const row = page.locator('#retention tr.retention-keep', { hasText: INUSE });
		const rule = await row.locator('td[data-label=Rule]').textContent();
		return /in use by an export/.test(rule) || `rule: ${rule}`;
	});
	await step('a deleted backup says no rule keeps it', async () => {
		const rule = await page.locator('#retention tr.retention-delete td[data-label=Rule]').first().textContent();
		return /no rule keeps it/.test(rule) || `rule: ${rule}`;
	});
	await step('the page raised no script error', async () => problems.length === 0 || problems.join('\n'));
	await page.locator('#retention h2').scrollIntoViewIfNeeded();
	await page.screenshot({ path: path.join(SHOTS, 'browser-retention.png'), fullPage: false });
} catch (e) {
	ok(false, 'browser session', e.stack || e.message);
} finally {
	await ctx.close().catch(() => {});
	fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
