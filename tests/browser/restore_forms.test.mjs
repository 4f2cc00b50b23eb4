/*
 * Real-browser test of the restore forms: "Restore to host…" for a job
 * of database dumps (browse.js restoreDbForm) and "Import into SR…" of a
 * xen-xva job (xva_import.js): Playwright (playwright-core) drives Debian's
 * /usr/bin/chromium, headless, against the `tisbackup serve` started by
 * tests/integration/test_web_restore.sh (no embedded worker: what the
 * form queues stays queued and the script checks it). Prints TAP lines
 * ("ok N - ..."), "# run ID" and "# import run ID" for the runs the
 * forms queued.
 *
 * Environment:
 *   TB_URL        base URL of the server
 *   TB_ADMIN      an admin; TB_ADMIN_PW its password
 *   TB_VIEWER     a viewer ([web] viewers_download = yes); TB_VIEWER_PW
 *   TB_JOB        a mysql+ssh job whose backup TB_AT holds the dumps of
 *                 "a/b" (file a%2Fb.sql.gz), "my db%x" and "plain"
 *   TB_XVA_JOB    a xen-xva job with a backup at TB_AT
 *   TB_SHOT_DIR   where to save the screenshots
 *   TB_CHROMIUM   the browser (default /usr/bin/chromium)
 */
import os from 'node:os';
import path from 'node:path';
import { env, ok, step, launch, login as loginAt, done } from './lib.mjs';

const BASE = env('TB_URL');
const JOB = env('TB_JOB');
const AT = env('TB_AT');
const XVA_JOB = env('TB_XVA_JOB');
const SHOTS = env('TB_SHOT_DIR', os.tmpdir());

const { ctx, page, problems, close } = await launch(20000);

async function login(user, pw) {
	await ctx.clearCookies();
	await loginAt(page, BASE, user, pw);
}

/* The job page with the browser panel listing the backup's dump files. */
async function openJob() {
	await page.goto(`${BASE}/#/job/${encodeURIComponent(JOB)}`);
	await page.waitForSelector('#browse table.browse');
	return page.locator('#browse-at').inputValue();
}

try {
	await step('an admin logs in and the job page lists the dump files of the backup', async () => {
		await login(env('TB_ADMIN'), env('TB_ADMIN_PW'));
		const at = await openJob();
		const names = await page.locator('#browse table.browse tbody tr td:first-child').allTextContents();
		return (at === AT && names.some((t) => t.includes('a%2Fb.sql.gz'))) || `at ${at}, names ${names.join(' | ')}`;
	});
	await step('"Restore…" on a%2Fb.sql.gz opens the database form with a/b preselected', async () => {
		await page.click('#browse button[aria-label="Restore a%2Fb.sql.gz to host"]');
		await page.waitForSelector('#restore-form #restore-db[data-loaded]');
		const legend = await page.textContent('#restore-form legend');
		const picked = await page.inputValue('#restore-db');
		return (legend.includes(AT) && picked === 'a/b') || `legend ${legend}, picked ${JSON.stringify(picked)}`;
	});
	await step('the databases offered are the names decoded from the backup, not its file names', async () => {
		const vals = await page.$$eval('#restore-db option', (os) => os.map((o) => o.value));
		return JSON.stringify(vals) === JSON.stringify(['', 'a/b', 'my db%x', 'plain']) || `options ${JSON.stringify(vals)}`;
	});
	await step('a/b without a name to load it as is refused and the page names options.to_db', async () => {
		await page.click('#restore-submit');
		await page.waitForSelector('#restore-form .form-error:not([hidden])');
		const t = await page.textContent('#restore-form .form-error');
		const done = await page.locator('#restore-form .restore-done:not([hidden])').count();
		return (t.startsWith('options.to_db:') && t.includes("'a/b'") && done === 0) || `error ${t}, done ${done}`;
	});
	await step('a bad target server is refused and the page names options.to_server', async () => {
		await page.fill('#restore-to-db', 'b_copy');
		await page.fill('#restore-to-server', '-oProxyCommand=x');
		await page.click('#restore-submit');
		await page.waitForFunction(() => document.querySelector('#restore-form .form-error')?.textContent.startsWith('options.to_server:'));
		const done = await page.locator('#restore-form .restore-done:not([hidden])').count();
		return done === 0 || `done shown ${done}`;
	});
	let run = '';
	await step('pick "my db%x", then back to a/b, a target name and server: the restore is queued', async () => {
		await page.selectOption('#restore-db', 'my db%x');
		await page.selectOption('#restore-db', 'a/b');
		await page.fill('#restore-to-db', 'b_copy');
		await page.fill('#restore-to-server', '127.0.0.2');
		await page.click('#restore-submit');
		await page.waitForSelector('#restore-form .restore-done:not([hidden]) code');
		run = (await page.textContent('#restore-form .restore-done code')).trim();
		const err = await page.locator('#restore-form .form-error:not([hidden])').count();
		if (/^\d+$/.test(run)) console.log(`# run ${run}`);
		return (/^\d+$/.test(run) && err === 0) || `run ${run}, error shown ${err}`;
	});
	await step('the queued run carries --db=a/b and the target, as a dry run', async () => {
		const r = await page.evaluate(async (i) => (await fetch(`/api/v1/runs/${i}`)).json(), run);
		const want = [`--at=${AT}`, '--db=a/b', '--to-db=b_copy', '--to-server=127.0.0.2', '--dry-run'];
		return (r.action === 'restore' && JSON.stringify(r.options) === JSON.stringify(want)) || `run ${JSON.stringify(r)}`;
	});
	await page.locator('#restore-form').scrollIntoViewIfNeeded();
	await page.screenshot({ path: path.join(SHOTS, 'browser-restore-db.png'), fullPage: false });
	await step('the page raised no script error', async () => problems.length === 0 || problems.join('\n'));

	let xrun = '';
	await step('a xen-xva job page offers "Import into SR…" to an admin, with its backup', async () => {
		await page.goto(`${BASE}/#/job/${encodeURIComponent(XVA_JOB)}`);
		await page.click('#xva-import #import-open');
		await page.waitForSelector('#import-form');
		const stamps = await page.$$eval('#import-at option', (os) => os.map((o) => o.value));
		return (JSON.stringify(stamps) === JSON.stringify([AT]) && (await page.isChecked('#import-dry-run'))) || `backups ${JSON.stringify(stamps)}`;
	});
	await step('an SR name that reads as an option is refused and the page names options.import_to', async () => {
		await page.fill('#import-sr', '-x');
		await page.click('#import-submit');
		await page.waitForSelector('#import-form .form-error:not([hidden])');
		const t = await page.textContent('#import-form .form-error');
		return t.startsWith('options.import_to:') || `error ${t}`;
	});
	await step('with an SR the import is queued as a dry run', async () => {
		await page.fill('#import-sr', 'pool SR 2');
		await page.click('#import-submit');
		await page.waitForSelector('#import-form .restore-done:not([hidden]) code');
		xrun = (await page.textContent('#import-form .restore-done code')).trim();
		if (/^\d+$/.test(xrun)) console.log(`# import run ${xrun}`);
		const r = await page.evaluate(async (i) => (await fetch(`/api/v1/runs/${i}`)).json(), xrun);
		const want = [`--at=${AT}`, '--import-to=pool SR 2', '--dry-run'];
		return JSON.stringify(r.options) === JSON.stringify(want) || `run ${JSON.stringify(r)}`;
	});
	await page.screenshot({ path: path.join(SHOTS, 'browser-xva-import.png'), fullPage: false });
	await step('no script error on the xen-xva page', async () => problems.length === 0 || problems.join('\n'));

	await step('a viewer browses the backup but gets no restore button nor form', async () => {
		await login(env('TB_VIEWER'), env('TB_VIEWER_PW'));
		await openJob();
		const open = await page.locator('#restore-open').count();
		const cells = await page.locator('#browse .restore-cell').count();
		const links = await page.locator('#browse a', { hasText: 'plain.sql.gz' }).count();
		return (open === 0 && cells === 0 && links === 1) || `restore-open ${open}, restore cells ${cells}, download links ${links}`;
	});
	await step('a viewer gets no "Import into SR…" on the xen-xva job page', async () => {
		await page.goto(`${BASE}/#/job/${encodeURIComponent(XVA_JOB)}`);
		await page.waitForSelector('.job-head h1');
		await page.waitForSelector('#versions');
		const n = await page.locator('#import-open, #xva-import').count();
		return n === 0 || `${n} import elements`;
	});
} catch (e) {
	ok(false, 'browser session', e.stack || e.message);
} finally {
	await close();
}
done();
