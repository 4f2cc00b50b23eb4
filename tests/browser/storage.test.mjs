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
import os from 'node:os';
import path from 'node:path';
import { env, ok, step, launch, login, done } from './lib.mjs';

const BASE = env('TB_URL');
const JOB = env('TB_JOB');
const SNAPS = env('TB_SNAPSHOTS');
const SAMPLES = Number(env('TB_SAMPLES'));
const FULL = env('TB_FULL_DAY');
const SHOTS = env('TB_SHOT_DIR', os.tmpdir());

const { page, problems, close } = await launch(15000);

try {
	await step('log in', async () => login(page, BASE, env('TB_ADMIN'), env('TB_ADMIN_PW')));
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
	await close();
}
done();
