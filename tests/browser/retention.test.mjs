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
import os from 'node:os';
import path from 'node:path';
import { env, ok, step, launch, login, done } from './lib.mjs';

const BASE = env('TB_URL');
const JOB = env('TB_JOB');
const ROWS = Number(env('TB_ROWS'));
const KEEP = Number(env('TB_KEEP'));
const KEEP_LIST = env('TB_KEEP_LIST').split('\n').filter(Boolean).sort();
const INUSE = env('TB_INUSE');
const SHOTS = env('TB_SHOT_DIR', os.tmpdir());

const { page, problems, close } = await launch(15000);

try {
	await step('log in', async () => login(page, BASE, env('TB_ADMIN'), env('TB_ADMIN_PW')));
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
	await close();
}
done();
