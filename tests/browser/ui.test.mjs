/*
 * Real-browser test of the tisbackup web UI: Playwright (playwright-core
 * only, no bundled browser) drives Debian's /usr/bin/chromium, headless,
 * against a running `tisbackup serve` started by
 * tests/integration/test_browser.sh. Prints TAP lines ("ok N - ...").
 *
 * Environment:
 *   TB_URL        base URL of the server (http://127.0.0.1:PORT)
 *   TB_ADMIN      admin user name; TB_ADMIN_PW its password
 *   TB_VIEWER     viewer user name; TB_VIEWER_PW its password (optional)
 *   TB_RSYNC_JOB  an rsync job that backs up successfully
 *   TB_NULL_JOBS  comma-separated null jobs
 *   TB_SLOW_JOB   a job that runs long enough to be cancelled
 *   TB_XSS_JOB    a job whose last log contains <script>alert(1)</script>
 *   TB_FLAKY_JOB  a job with a recent good backup and four failed runs since (optional)
 *   TB_SHOT_DIR   where to save screenshots
 *   TB_CHROMIUM   the browser (default /usr/bin/chromium)
 *   TB_OTHER_JOB  the only job of the second config file (switcher test)
 *   TB_NOUSERS_URL a second server whose users file is empty (optional)
 *   TB_EXPORT_DIR  when set, export TB_RSYNC_JOB to this folder from the UI
 *   TB_RUN_TIMEOUT seconds to wait for a queued backup to finish (default 90)
 *   TB_SWITCH_JOB  a switch job with two registered versions that differ by
 *                  one hostname line (optional: the versions/diff steps)
 *   TB_RESTORE_DIR when set, restore TB_RSYNC_JOB's "sub" folder to this
 *                  (absent) folder with the browser panel's "Restore to
 *                  host…" form: a dry run first, then for real
 *   TB_XFER_JOB    a job whose transfer is slow (bwlimit) and whose previous
 *                  run moved as much: its live progress (optional)
 *   TB_EMPTY_JOB   a job whose runs all wrote 0 bytes (optional)
 *   TB_SERVE_PID, TB_RELOAD_CONF  serve's pid and one of its backup configs:
 *                  broken, reloaded (SIGHUP), fixed, reloaded (optional)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, ok, step, launch, login as loginAt, done } from './lib.mjs';

const BASE = env('TB_URL');
const ADMIN = env('TB_ADMIN');
const ADMIN_PW = env('TB_ADMIN_PW');
const VIEWER = process.env.TB_VIEWER;
const VIEWER_PW = process.env.TB_VIEWER_PW;
const RSYNC_JOB = env('TB_RSYNC_JOB');
const NULL_JOBS = env('TB_NULL_JOBS').split(',').filter(Boolean);
const XSS_JOB = env('TB_XSS_JOB');
const SLOW_JOB = process.env.TB_SLOW_JOB;
const FLAKY_JOB = process.env.TB_FLAKY_JOB;
const SHOTS = env('TB_SHOT_DIR', os.tmpdir());
const OTHER_JOB = process.env.TB_OTHER_JOB;
const NOUSERS_URL = process.env.TB_NOUSERS_URL;
const EXPORT_DIR = process.env.TB_EXPORT_DIR;
const RUN_TIMEOUT = Number(env('TB_RUN_TIMEOUT', '90')) * 1000;
const SWITCH_JOB = process.env.TB_SWITCH_JOB;
const RESTORE_DIR = process.env.TB_RESTORE_DIR;
const XFER_JOB = process.env.TB_XFER_JOB;
const EMPTY_JOB = process.env.TB_EMPTY_JOB;
const SERVE_PID = Number(process.env.TB_SERVE_PID || 0);
const RELOAD_CONF = process.env.TB_RELOAD_CONF;
/* The UI's one date format: ISO, local time with its UTC offset. */
const ISO_OFFSET = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;

const { page, problems, close } = await launch(10000);
const dialogs = [];
/* confirm() questions asked, and the answer the next ones get. */
const confirms = [];
let confirmAnswer = false;
page.on('dialog', (d) => {
	if (d.type() === 'confirm') {
		confirms.push(d.message());
		(confirmAnswer ? d.accept() : d.dismiss()).catch(() => {});
		return;
	}
	dialogs.push(d.message());
	d.dismiss().catch(() => {});
});
let posts = 0; /* POST /api/v1/runs requests made */
page.on('request', (r) => {
	if (r.method() === 'POST' && r.url().endsWith('/api/v1/runs')) posts++;
});
/* Resolves once cond() holds (polled), or throws after ms. */
async function until(cond, ms, what) {
	const t0 = Date.now();
	while (!(await cond())) {
		if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
		await new Promise((ok) => setTimeout(ok, 50));
	}
}
page.on('console', (m) => {
	if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(`console: ${m.text()}`);
});

const row = (name) => page.locator(`tr[data-job="${name}"]`);

const login = (user, pw) => loginAt(page, BASE, user, pw);

try {
	// ------------------------------------------------------------ anonymous
	await step('anonymous visit of / lands on the login page', async () => {
		await page.goto(`${BASE}/`);
		await page.waitForSelector('#login-form');
		return new URL(page.url()).pathname === '/login' || `url is ${page.url()}`;
	});
	await step('login page has labelled user name and password fields', async () => {
		const u = await page.locator('label[for=username]').count();
		const p = await page.locator('label[for=password]').count();
		return (u === 1 && p === 1) || 'missing labels';
	});
	await step('a wrong password shows an error on the login page', async () => {
		await page.fill('#username', ADMIN);
		await page.fill('#password', `${ADMIN_PW}-wrong`);
		await page.click('#login-form button[type=submit]');
		await page.waitForSelector('#login-message:not([hidden])');
		const t = await page.textContent('#login-message');
		return /wrong|invalid|incorrect/i.test(t) || `message: ${t}`;
	});

	// ------------------------------------------------------------ dashboard
	await step('admin logs in and sees the dashboard', async () => {
		await login(ADMIN, ADMIN_PW);
		await page.waitForSelector('tr[data-job]');
		const who = await page.textContent('#user-name');
		return who === ADMIN || `user shown: ${who}`;
	});
	const all = [RSYNC_JOB, XSS_JOB, ...NULL_JOBS, ...[SLOW_JOB, FLAKY_JOB, SWITCH_JOB, XFER_JOB, EMPTY_JOB].filter(Boolean)];
	await step(`dashboard lists every job (${all.join(', ')})`, async () => {
		const names = await page.locator('tr[data-job]').evaluateAll((rs) => rs.map((r) => r.dataset.job));
		const missing = all.filter((x) => !names.includes(x));
		return missing.length === 0 || `missing ${missing.join(', ')}; shown ${names.join(', ')}`;
	});
	await step('jobs are grouped by type (rsync+ssh and null groups)', async () => {
		const types = await page.locator('section.group').evaluateAll((g) => g.map((x) => x.dataset.type));
		return (types.includes('rsync+ssh') && types.includes('null')) || `groups: ${types.join(', ')}`;
	});
	await step(`${RSYNC_JOB} shows health OK with an age and a size`, async () => {
		const h = await row(RSYNC_JOB).getAttribute('data-health');
		const age = await row(RSYNC_JOB).locator('td[data-label="Last good"]').textContent();
		const size = await row(RSYNC_JOB).locator('td[data-label="Size"]').textContent();
		return (h === 'ok' && /ago|just now/.test(age) && /B$/.test(size)) || `health=${h} age=${age} size=${size}`;
	});
	await step(`${XSS_JOB} (failed last run, never good) is not OK`, async () => {
		const h = await row(XSS_JOB).getAttribute('data-health');
		return (h === 'critical' || h === 'warning') || `health=${h}`;
	});
	if (FLAKY_JOB) {
		await step(`${FLAKY_JOB} (recent good backup, last attempt failed) is not green and says its last attempt failed`, async () => {
			const hl = await row(FLAKY_JOB).getAttribute('data-health');
			const att = await row(FLAKY_JOB).locator('td[data-label="Last attempt"]').textContent();
			const age = await row(FLAKY_JOB).locator('td[data-label="Last good"]').textContent();
			return (hl === 'warning' && /failed/.test(att) && /flag is missing/.test(att) && /ago|just now/.test(age)) || `health=${hl} attempt=${att} last good=${age}`;
		});
		await step(`${RSYNC_JOB}'s last attempt is shown OK, and its next run never (no schedule)`, async () => {
			const att = await row(RSYNC_JOB).locator('td[data-label="Last attempt"] .attempt').textContent();
			const next = await row(RSYNC_JOB).locator('td[data-label="Last attempt"] .next-run').textContent();
			return (/^OK \d{4}-\d{2}-\d{2} /.test(att) && next === 'next: never') || `attempt=${att} next=${next}`;
		});
		await step('failing jobs come first in their group', async () => {
			const order = await page.locator('section.group[data-type="rsync+ssh"] tbody tr').evaluateAll((rs) => rs.map((r) => `${r.dataset.job}:${r.dataset.health}`));
			const rank = { critical: 0, warning: 1, running: 2, unknown: 3, ok: 4, nodata: 5 };
			const ranks = order.map((x) => rank[x.split(':')[1]] ?? 3);
			const sorted = ranks.every((v, i) => i === 0 || ranks[i - 1] <= v);
			return (sorted && order.indexOf(`${FLAKY_JOB}:warning`) < order.indexOf(`${RSYNC_JOB}:ok`)) || `order ${order.join(', ')}`;
		});
		await step('the group with failing jobs comes before the null group', async () => {
			const types = await page.locator('section.group').evaluateAll((g) => g.map((x) => x.dataset.type));
			return types.indexOf('rsync+ssh') < types.indexOf('null') || `groups: ${types.join(', ')}`;
		});
		await step('the Warning counter filters the list to the warning jobs, and again shows all', async () => {
			const chip = page.locator('button.chip-filter[data-health="warning"]');
			const label = await chip.textContent();
			await chip.click();
			const vis = await page.locator('tr[data-job]:visible').evaluateAll((rs) => rs.map((r) => `${r.dataset.job}:${r.dataset.health}`));
			const pressed = await chip.getAttribute('aria-pressed');
			const onlyWarn = vis.length > 0 && vis.every((x) => x.endsWith(':warning')) && vis.includes(`${FLAKY_JOB}:warning`);
			const n = Number((/\d+/.exec(label) || ['-1'])[0]);
			await page.screenshot({ path: path.join(SHOTS, 'browser-dashboard-health.png'), fullPage: true });
			await chip.click();
			const back = await page.locator('tr[data-job]:visible').count();
			const total = await page.locator('tr[data-job]').count();
			return (onlyWarn && vis.length === n && pressed === 'true' && back === total && (await chip.getAttribute('aria-pressed')) === 'false') || `label ${label}; shown ${vis.join(', ')}; pressed ${pressed}; after ${back}/${total}`;
		});
	}
	await step('admin sees Run now / Cleanup buttons', async () => {
		const c = await row(RSYNC_JOB).locator('button[data-action=backup]').count();
		return c === 1 || `found ${c}`;
	});
	await step('null jobs show "no data": no green OK, no Run now / Cleanup', async () => {
		const bad = [];
		for (const name of NULL_JOBS) {
			const hl = await row(name).getAttribute('data-health');
			const badge = (await row(name).locator('td.cell-status .badge').first().textContent()).trim();
			const att = (await row(name).locator('td[data-label="Last attempt"]').textContent()).trim();
			const buttons = await row(name).locator('button[data-action]').count();
			const green = await row(name).locator('.health-ok').count();
			if (hl !== 'nodata' || badge !== 'No data' || !/^no data/.test(att) || buttons !== 0 || green !== 0) bad.push(`${name}: health=${hl} badge=${badge} attempt=${att} buttons=${buttons} green=${green}`);
		}
		return bad.length === 0 || bad.join('\n');
	});
	await step('at 1280 px the dashboard fits the width (no horizontal scroll)', async () => {
		const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
		return sw <= w || `scrollWidth ${sw} > ${w}`;
	});
	await step('dates on the dashboard are ISO, local time with the UTC offset', async () => {
		const when = await row(RSYNC_JOB).locator('td[data-label="Last attempt"] .attempt').textContent();
		const d = when.replace(/^OK /, '');
		return ISO_OFFSET.test(d) || `attempt: ${when}`;
	});
	await step('the storage chart labels its days once each (no date repeated on the axis)', async () => {
		const svg = page.locator('#storage svg.su-chart');
		await svg.waitFor({ timeout: 30000 });
		const labels = await svg.locator('.chart-grid text[text-anchor]').evaluateAll((ts) => ts.map((t) => t.textContent).filter((x) => /^\d{4}-\d{2}-\d{2}$/.test(x)));
		return (labels.length >= 2 && new Set(labels).size === labels.length) || `day labels: ${labels.join(' ')}`;
	});
	await step('Cleanup asks for confirmation; declined, nothing is started', async () => {
		const before = posts;
		const asked = confirms.length;
		confirmAnswer = false;
		await row(RSYNC_JOB).locator('button[data-action=cleanup]').click();
		await until(() => confirms.length > asked, 5000, 'the confirmation');
		const msg = confirms[confirms.length - 1];
		const enabled = await row(RSYNC_JOB).locator('button[data-action=cleanup]').isEnabled();
		const runs = await row(RSYNC_JOB).locator('.run').count();
		return (new RegExp(`Clean up ${RSYNC_JOB}\\?`).test(msg) && posts === before && enabled && runs === 0) || `asked "${msg}", posts ${before} -> ${posts}, enabled ${enabled}, run badges ${runs}`;
	});

	// ------------------------------------------------------------ search
	await step('search box narrows the list as you type (null jobs only)', async () => {
		await page.fill('#job-search', 'null');
		const vis = await page.locator('tr[data-job]:visible').evaluateAll((rs) => rs.map((r) => r.dataset.job));
		return (vis.length === NULL_JOBS.length && NULL_JOBS.every((x) => vis.includes(x))) || `visible: ${vis.join(', ')}`;
	});
	await step('search by exact job name leaves one row, its group only', async () => {
		await page.fill('#job-search', RSYNC_JOB);
		const vis = await page.locator('tr[data-job]:visible').count();
		const groups = await page.locator('section.group:visible').count();
		return (vis === 1 && groups === 1) || `rows ${vis}, groups ${groups}`;
	});
	await step('a search matching nothing says so', async () => {
		await page.fill('#job-search', 'no-such-job-zzz');
		return (await page.locator('.no-match:visible').count()) === 1 || 'no "no match" message';
	});
	await page.fill('#job-search', '');
	if (OTHER_JOB) {
		await step('the config switcher shows the second config and its jobs', async () => {
			const opts = await page.locator('#config-select option').count();
			if (opts !== 2) return `${opts} configs in the switcher`;
			await page.selectOption('#config-select', '1');
			await page.waitForSelector(`tr[data-job="${OTHER_JOB}"]`);
			const names = await page.locator('tr[data-job]').evaluateAll((rs) => rs.map((r) => r.dataset.job));
			return names.join() === OTHER_JOB || `jobs shown: ${names.join(', ')}`;
		});
		await step('switching back to the first config shows its jobs again', async () => {
			await page.selectOption('#config-select', '0');
			await page.waitForSelector(`tr[data-job="${RSYNC_JOB}"]`);
			return (await page.locator(`tr[data-job="${OTHER_JOB}"]`).count()) === 0 || 'other config job still shown';
		});
	}
	await page.screenshot({ path: path.join(SHOTS, 'browser-dashboard.png'), fullPage: true });

	// ------------------------------------------------------------ job page
	let histBefore = 0;
	await step(`opening ${RSYNC_JOB} shows its page`, async () => {
		await row(RSYNC_JOB).locator('td.cell-name a').click();
		await page.waitForSelector('.job-head h1');
		const t = await page.textContent('.job-head h1');
		return (t === RSYNC_JOB && page.url().endsWith(`#/job/${encodeURIComponent(RSYNC_JOB)}`)) || `title ${t} url ${page.url()}`;
	});
	await step('job page has an SVG chart of durations with one point per run', async () => {
		histBefore = await page.locator('table.history tbody tr').count();
		const pts = await page.locator('#chart-duration svg circle').count();
		const axes = await page.locator('#chart-duration svg .chart-unit').allTextContents();
		return (histBefore >= 2 && pts === histBefore && axes.some((a) => /\((s|min|h)\)/.test(a))) || `history ${histBefore}, points ${pts}, axes ${axes.join('|')}`;
	});
	await step('job page has an SVG chart of written bytes with units', async () => {
		const pts = await page.locator('#chart-written svg circle').count();
		const axes = await page.locator('#chart-written svg .chart-unit').allTextContents();
		return (pts === histBefore && axes.some((a) => /B\)/.test(a))) || `points ${pts}, axes ${axes.join('|')}`;
	});
	await step('chart points carry a tooltip with date and value', async () => {
		const t = await page.locator('#chart-written svg circle title').first().textContent();
		return /\d{4}-\d{2}-\d{2} .*B/.test(t) || `tooltip: ${t}`;
	});
	await step('job page shows the last run log', async () => {
		const t = await page.textContent('#last-log');
		return /OK|written/.test(t) || `log: ${t}`;
	});
	// the snapshot browser panel (browse.js): walk into a folder, download a file through its link
	await step('job page browses the newest backup: folders are buttons, files are download links', async () => {
		await page.waitForSelector('#browse table.browse');
		const file = await page.locator('#browse a', { hasText: 'index.html' }).getAttribute('href');
		const dir = await page.locator('#browse button.link', { hasText: 'sub/' }).count();
		return (/\/api\/v1\/jobs\/[^/]+\/file\?at=\d{8}-\d{2}h\d{2}m\d{2}&path=index.html$/.test(file) && dir === 1) || `link ${file}, sub/ buttons ${dir}`;
	});
	await step('a file downloaded from the browser panel is whole, as an attachment', async () => {
		await page.locator('#browse button.link', { hasText: 'sub/' }).click();
		await page.waitForSelector('#browse a:has-text("data.bin")');
		const href = await page.locator('#browse a', { hasText: 'data.bin' }).getAttribute('href');
		const res = await page.request.get(BASE + href);
		const body = await res.body();
		const cd = res.headers()['content-disposition'] || '';
		return (res.status() === 200 && body.length === 200000 && /attachment; filename="data.bin"/.test(cd)) || `status ${res.status()} length ${body.length} disposition ${cd}`;
	});
	await page.screenshot({ path: path.join(SHOTS, 'browser-job.png'), fullPage: true });

	if (SWITCH_JOB) {
		await step(`${RSYNC_JOB} (folders) has no Versions panel`, async () => (await page.locator('#versions').count()) === 0 || 'a Versions panel on a folder backup');
		await step(`${SWITCH_JOB}'s page lists its two versions, newest as "to"`, async () => {
			await page.goto(`${BASE}/#/job/${encodeURIComponent(SWITCH_JOB)}`);
			await page.waitForSelector('#versions');
			const n = await page.locator('#diff-from option').count();
			const from = await page.locator('#diff-from').inputValue();
			const to = await page.locator('#diff-to').inputValue();
			return (n === 2 && from < to) || `options ${n}, from ${from}, to ${to}`;
		});
		await step('"Show changes" shows the changed line, removed and added, as text', async () => {
			await page.click('#diff-show');
			await page.waitForSelector('#diff-text');
			const del = await page.locator('#diff-text .diff-del').allTextContents();
			const add = await page.locator('#diff-text .diff-add').allTextContents();
			return (del.length === 1 && add.length === 1 && del[0].includes('-hostname "old<b>name"') && add[0].includes('+hostname "core-2524"')) || `removed ${JSON.stringify(del)} added ${JSON.stringify(add)}`;
		});
		await page.screenshot({ path: path.join(SHOTS, 'browser-versions.png'), fullPage: true });
		await step('the same version on both sides: "identical"', async () => {
			await page.selectOption('#diff-from', await page.locator('#diff-to').inputValue());
			await page.click('#diff-show');
			await page.waitForSelector('#diff-same');
			return true;
		});
	}

	await step('an unknown job shows "Not found"', async () => {
		await page.goto(`${BASE}/#/job/no-such-job`);
		await page.waitForSelector('.panel.error h1');
		return (await page.textContent('.panel.error h1')) === 'Not found' || 'no Not found panel';
	});

	// ------------------------------------------------------------ XSS as text
	await step(`${XSS_JOB}'s log with <script>alert(1)</script> is shown as text`, async () => {
		await page.goto(`${BASE}/#/job/${encodeURIComponent(XSS_JOB)}`);
		await page.waitForSelector('#last-log');
		const t = await page.textContent('#last-log');
		const kids = await page.locator('#last-log *').count();
		return (t.includes('<script>alert(1)</script>') && kids === 0) || `children ${kids}, text ${t}`;
	});
	if (SWITCH_JOB) {
		await step(`${SWITCH_JOB}'s registered versions have unknown written bytes: no point drawn at 0`, async () => {
			const j = await (await page.request.get(`${BASE}/api/v1/jobs/${encodeURIComponent(SWITCH_JOB)}`)).json();
			await page.goto(`${BASE}/#/job/${encodeURIComponent(SWITCH_JOB)}`);
			await page.waitForSelector('#chart-written svg');
			const unknown = j.history.filter((r) => r.written_bytes === null).length;
			const pts = await page.locator('#chart-written svg circle').count();
			const empty = await page.locator('#chart-written svg .chart-empty').allTextContents();
			const labels = await page.locator('#chart-written svg .chart-ylabel').allTextContents();
			return (unknown > 0 && pts === j.history.length - unknown && (pts > 0 || (empty.join() === 'no value recorded' && labels.length === 0))) || `history ${j.history.length}, unknown ${unknown}, points ${pts}, empty ${empty.join()}, labels ${labels.join(' ')}`;
		});
	}
	if (EMPTY_JOB) {
		await step(`${EMPTY_JOB} (every run wrote 0 bytes): the axis reads 0 and 1, not "0 0 0 0 0"`, async () => {
			await page.goto(`${BASE}/#/job/${encodeURIComponent(EMPTY_JOB)}`);
			await page.waitForSelector('#chart-written svg circle');
			const labels = await page.locator('#chart-written svg .chart-ylabel').allTextContents();
			const pts = await page.locator('#chart-written svg circle').count();
			return (labels.length >= 2 && new Set(labels).size === labels.length && labels[0] === '0' && pts >= 1) || `labels ${labels.join(' ')}, points ${pts}`;
		});
	}
	await step('no script from the data ran (no dialog)', async () => {
		await page.waitForTimeout(300);
		return dialogs.length === 0 || `dialogs: ${dialogs.join(', ')}`;
	});

	// ------------------------------------------------------------ run now
	await page.goto(`${BASE}/#/`);
	await page.waitForSelector(`tr[data-job="${RSYNC_JOB}"]`);
	const postP = page.waitForResponse((r) => r.url().endsWith('/api/v1/runs') && r.request().method() === 'POST');
	await row(RSYNC_JOB).locator('button[data-action=backup]').click();
	let post = null;
	await step('"Run now" posts a backup run with the CSRF token (202)', async () => {
		post = await postP;
		const hdr = post.request().headers()['x-csrf-token'];
		const body = post.request().postDataJSON();
		return (post.status() === 202 && !!hdr && body.action === 'backup' && body.sections[0] === RSYNC_JOB) || `status ${post.status()} csrf ${hdr} body ${JSON.stringify(body)}`;
	});
	await step('the run state is shown live in the job row', async () => {
		await row(RSYNC_JOB).locator('.run').first().waitFor({ timeout: 5000 });
		return true;
	});
	let final = null;
	await step('the backup started from the UI finishes and the row turns OK', async () => {
		const done = page.waitForResponse(async (r) => {
			if (!/\/api\/v1\/runs\/[^/]+$/.test(r.url())) return false;
			const j = await r.json().catch(() => null);
			if (j && ['done', 'failed', 'cancelled'].includes(j.state)) {
				final = j;
				return true;
			}
			return false;
		}, { timeout: RUN_TIMEOUT });
		try {
			await done;
		} catch (e) {
			const st = await row(RSYNC_JOB).locator('.run').first().getAttribute('data-run-state').catch(() => '?');
			return `no end within ${RUN_TIMEOUT / 1000}s; run state shown: ${st} (is a worker running in serve?)`;
		}
		await page.waitForFunction((name) => {
			const r = document.querySelector(`tr[data-job="${name}"]`);
			return r && !r.querySelector('.run');
		}, RSYNC_JOB);
		const h = await row(RSYNC_JOB).getAttribute('data-health');
		return (final.state === 'done' && h === 'ok') || `run ${JSON.stringify(final)}; health ${h}`;
	});
	await step('the job page now shows one more run in its history and chart', async () => {
		await page.goto(`${BASE}/#/job/${encodeURIComponent(RSYNC_JOB)}`);
		await page.waitForSelector('#chart-duration svg');
		const rows = await page.locator('table.history tbody tr').count();
		const pts = await page.locator('#chart-duration svg circle').count();
		return (rows === histBefore + 1 && pts === rows) || `history ${histBefore} -> ${rows}, points ${pts}`;
	});

	// ------------------------------------------------------------ cancel
	if (SLOW_JOB) {
		await page.goto(`${BASE}/#/`);
		await row(SLOW_JOB).waitFor();
		await step(`a running backup of ${SLOW_JOB} shows a Cancel button`, async () => {
			await row(SLOW_JOB).locator('button[data-action=backup]').click();
			await row(SLOW_JOB).locator('.run[data-run-state=running]').waitFor({ timeout: RUN_TIMEOUT });
			return (await row(SLOW_JOB).locator('button[data-action=cancel]').count()) === 1 || 'no Cancel button';
		});
		await step('Cancel sends DELETE with the CSRF token and the run ends cancelled', async () => {
			const delP = page.waitForResponse((r) => r.request().method() === 'DELETE');
			const endP = page.waitForResponse(async (r) => {
				if (!/\/api\/v1\/runs\/[^/]+$/.test(r.url()) || r.request().method() !== 'GET') return false;
				const j = await r.json().catch(() => null);
				return !!j && ['done', 'failed', 'cancelled'].includes(j.state);
			}, { timeout: RUN_TIMEOUT });
			const asked = confirms.length;
			confirmAnswer = true;
			await row(SLOW_JOB).locator('button[data-action=cancel]').click();
			const del = await delP;
			confirmAnswer = false;
			if (confirms.length !== asked + 1 || !/^Cancel the backup run/.test(confirms[asked])) return `confirmation: ${confirms.slice(asked).join(' | ') || 'none asked'}`;
			if (del.status() !== 202 || !del.request().headers()['x-csrf-token']) return `DELETE ${del.status()}`;
			const end = await (await endP).json();
			await page.waitForFunction((name) => {
				const r = document.querySelector(`tr[data-job="${name}"]`);
				return r && !r.querySelector('.run');
			}, SLOW_JOB);
			return end.state === 'cancelled' || `run ended ${end.state}`;
		});
	}

	// ------------------------------------------------------------ live progress
	if (XFER_JOB) {
		let first = '';
		await step(`a running backup of ${XFER_JOB} shows its percent, rate and ETA on the dashboard`, async () => {
			await page.goto(`${BASE}/#/`);
			await row(XFER_JOB).waitFor();
			await row(XFER_JOB).locator('button[data-action=backup]').click();
			await page.waitForFunction(
				(name) => {
					const t = document.querySelector(`tr[data-job="${name}"] .xfer .xfer-text`);
					return t && /\d+ %/.test(t.textContent) && /\/s/.test(t.textContent) && /ETA /.test(t.textContent);
				},
				XFER_JOB,
				{ timeout: RUN_TIMEOUT },
			);
			first = await row(XFER_JOB).locator('.xfer .xfer-text').textContent();
			const pct = Number(await row(XFER_JOB).locator('.xfer').getAttribute('data-progress'));
			const now = Number(await row(XFER_JOB).locator('.xfer [role=progressbar]').getAttribute('aria-valuenow'));
			return (pct >= 0 && pct < 100 && now === pct && / of ~\d/.test(first)) || `progress ${pct}, bar ${now}, text ${first}`;
		});
		await step('... refreshed while it runs (the bytes moved grow)', async () => {
			await page.waitForFunction(
				([name, before]) => {
					const t = document.querySelector(`tr[data-job="${name}"] .xfer .xfer-text`);
					return t && t.textContent !== before && /\d+ %/.test(t.textContent);
				},
				[XFER_JOB, first],
				{ timeout: 30000 },
			);
			await page.screenshot({ path: path.join(SHOTS, 'browser-progress.png'), fullPage: true });
			const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
			return sw <= w || `with the progress shown, scrollWidth ${sw} > ${w}`;
		});
		await step('the Runs view shows the progress of the running run and of its catalog row', async () => {
			await page.click('nav.main-nav a[data-nav=runs]');
			const q = page.locator('table.runs:not(.catalog-runs) tbody tr[data-state=running] .xfer .xfer-text', { hasText: '%' });
			const c = page.locator(`#catalog-runs tr[data-job="${XFER_JOB}"][data-status="Running"] .xfer .xfer-text`, { hasText: 'ETA' });
			await q.first().waitFor({ timeout: 30000 });
			await c.first().waitFor({ timeout: 30000 });
			const qt = await q.first().textContent();
			const ct = await c.first().textContent();
			await page.screenshot({ path: path.join(SHOTS, 'browser-runs-progress.png'), fullPage: true });
			return (/\d+ %.*\/s.*ETA/.test(qt) && /\/s/.test(ct)) || `queued run: ${qt}; catalog: ${ct}`;
		});
		await step('a progress without an estimate shows bytes and rate, no percent (indeterminate bar)', async () => {
			const r = await page.evaluate(async () => {
				const m = await import('/static/progress.js');
				const el = m.progressBox({ bytes: 3 * 1048576, files: 2, rate_bps: 262144, percent: null, eta_s: null, expected_bytes: null, started: null, updated: null });
				return { text: el.textContent, pct: el.dataset.progress, unknown: !!el.querySelector('.xfer-unknown'), now: el.querySelector('[role=progressbar]').getAttribute('aria-valuenow') };
			});
			return (/3(\.0+)? MiB/.test(r.text) && /\/s/.test(r.text) && !/%|ETA/.test(r.text) && r.pct === '' && r.unknown && r.now === null) || JSON.stringify(r);
		});
		await step(`cancelling ${XFER_JOB}'s run (confirmed) ends it and its progress`, async () => {
			await page.goto(`${BASE}/#/`);
			const cancel = row(XFER_JOB).locator('button[data-action=cancel]');
			await cancel.waitFor({ timeout: 30000 });
			confirmAnswer = true;
			await cancel.click();
			await page.waitForFunction(
				(name) => {
					const r = document.querySelector(`tr[data-job="${name}"]`);
					return r && !r.querySelector('.run') && !r.querySelector('.xfer');
				},
				XFER_JOB,
				{ timeout: RUN_TIMEOUT },
			);
			confirmAnswer = false;
			return true;
		});
	}

	// ------------------------------------------------------------ last backups
	await step('last backups view lists catalog rows with totals', async () => {
		await page.click('nav.main-nav a[data-nav=backups]');
		await page.waitForSelector('table.backups tbody tr[data-job]');
		const rows = await page.locator('table.backups tbody tr[data-job]').count();
		const tot = await page.textContent('#total-written');
		return (rows >= 3 && /B$/.test(tot)) || `rows ${rows} total ${tot}`;
	});
	await step('clicking a column header sorts by it', async () => {
		const th = page.locator('table.backups thead th', { hasText: 'Job' });
		await th.locator('button').click();
		const s1 = await th.getAttribute('aria-sort');
		const names = await page.locator('table.backups tbody tr[data-job]').evaluateAll((rs) => rs.map((r) => r.dataset.job));
		const sorted = [...names].sort((a, b) => a.localeCompare(b));
		return (s1 === 'ascending' && JSON.stringify(names) === JSON.stringify(sorted)) || `aria-sort ${s1}, order ${names.join(',')}`;
	});
	await step('last backups: start dates in the one format, locations whole to the stamp', async () => {
		const starts = await page.locator('table.backups tbody tr[data-job] td[data-label="Start"]').allTextContents();
		const loc = page.locator('table.backups tbody tr[data-job] td[data-label="Location"]').first();
		const text = await loc.textContent();
		const [sw, cw] = await loc.evaluate((td) => [td.scrollWidth, td.clientWidth]);
		const badDates = starts.filter((d) => !ISO_OFFSET.test(d));
		return (badDates.length === 0 && /\d{8}-\d{2}h\d{2}m\d{2}$/.test(text) && sw <= cw + 1) || `dates ${badDates.join(', ')}; location "${text}" ${sw}/${cw} px`;
	});
	await step('the pager walks the list: "Older" shows the next rows, "Newer" the first ones again', async () => {
		const rowsSel = 'table.backups tbody tr[data-job]';
		const keys = () => page.locator(rowsSel).evaluateAll((rs) => rs.map((r) => `${r.dataset.job}|${r.querySelector('td[data-label="Start"]').textContent}`).sort());
		const label = () => page.locator('.pager span.muted').textContent();
		const older = page.locator('.pager button', { hasText: 'Older' });
		const newer = page.locator('.pager button', { hasText: 'Newer' });
		await page.selectOption('#f-limit', '20');
		await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 20, rowsSel);
		const first = await keys();
		const l1 = await label();
		const total = Number((/of (\d+)$/.exec(l1) || [])[1]);
		if (!(total > 20)) return `first page "${l1}": the catalog needs more than 20 rows`;
		const newerOff = await newer.isDisabled();
		await older.click();
		await page.waitForFunction(() => /^21–/.test(document.querySelector('.pager span.muted')?.textContent || ''));
		await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length === n, [rowsSel, Math.min(20, total - 20)]);
		const second = await keys();
		const l2 = await label();
		const olderOff = await older.isDisabled();
		await newer.click();
		await page.waitForFunction(() => /^1–20 /.test(document.querySelector('.pager span.muted')?.textContent || ''));
		await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 20, rowsSel);
		const back = await keys();
		const overlap = second.filter((k) => first.includes(k));
		await page.selectOption('#f-limit', '50');
		await page.waitForFunction((sel) => document.querySelectorAll(sel).length > 20, rowsSel);
		return (
			(newerOff && l1 === `1–20 of ${total}` && l2 === `21–${Math.min(40, total)} of ${total}` && overlap.length === 0 &&
				(total > 40 || olderOff) && JSON.stringify(back) === JSON.stringify(first)) ||
			`labels "${l1}" / "${l2}", newer disabled first ${newerOff}, older disabled last ${olderOff}, overlap ${overlap.join(',')}, back ${JSON.stringify(back) === JSON.stringify(first)}`
		);
	});
	await step('the date filters take YYYY-MM-DD (no locale format) and filter', async () => {
		const type = await page.locator('#f-since').getAttribute('type');
		const ph = await page.locator('#f-since').getAttribute('placeholder');
		await page.fill('#f-since', '2999-01-01');
		await page.locator('#f-since').dispatchEvent('change');
		await page.waitForFunction(() => document.querySelectorAll('table.backups tbody tr[data-job]').length === 0);
		await page.fill('#f-since', '');
		await page.locator('#f-since').dispatchEvent('change');
		await page.waitForSelector('table.backups tbody tr[data-job]');
		return (type === 'text' && ph === 'YYYY-MM-DD') || `type ${type}, placeholder ${ph}`;
	});
	await step('filtering by job shows only that job', async () => {
		await page.selectOption('#f-job', RSYNC_JOB);
		await page.waitForFunction((name) => {
			const rs = [...document.querySelectorAll('table.backups tbody tr[data-job]')];
			return rs.length > 0 && rs.every((r) => r.dataset.job === name);
		}, RSYNC_JOB);
		return true;
	});

	// ------------------------------------------------------------ export page
	await step('export page lists the jobs and both targets', async () => {
		await page.click('nav.main-nav a[data-nav=export]');
		await page.waitForSelector('#export-start');
		const boxes = await page.locator('input.section-box').count();
		const usb = await page.locator('#target-usb').count();
		return (boxes === all.length && usb === 1) || `boxes ${boxes}`;
	});

	if (EXPORT_DIR) {
		await step(`an export of ${RSYNC_JOB} to a folder runs and shows its progress`, async () => {
			await page.uncheck('#sec-all');
			await page.check(`#sec-${RSYNC_JOB}`);
			await page.check('#target-dir');
			await page.fill('#export-dir', EXPORT_DIR);
			const postE = page.waitForResponse((r) => r.url().endsWith('/api/v1/runs') && r.request().method() === 'POST');
			await page.click('#export-start');
			const r = await postE;
			const body = r.request().postDataJSON();
			if (r.status() !== 202) return `POST ${r.status()} ${await r.text()}`;
			if (body.exportdir !== EXPORT_DIR || body.sections.join() !== RSYNC_JOB) return `body ${JSON.stringify(body)}`;
			const badge = page.locator('.export-progress .run');
			await badge.waitFor();
			try {
				await page.waitForFunction(() => {
					const b = document.querySelector('.export-progress .run');
					return b && ['done', 'failed', 'cancelled'].includes(b.dataset.runState);
				}, null, { timeout: RUN_TIMEOUT });
			} catch {
				return `export not finished within ${RUN_TIMEOUT / 1000}s; state ${await badge.getAttribute('data-run-state')}`;
			}
			const st = await badge.getAttribute('data-run-state');
			const rows = await page.locator('.export-progress table.export-rows tbody tr').allTextContents();
			return (st === 'done' && rows.some((t) => t.includes(RSYNC_JOB) && t.includes('OK'))) || `state ${st}; rows ${rows.join(' | ')}`;
		});
		await page.screenshot({ path: path.join(SHOTS, 'browser-export.png'), fullPage: true });
	}

	// ------------------------------------------------------------ runs view
	await step('the Runs view lists the runs started from the UI with their states', async () => {
		await page.click('nav.main-nav a[data-nav=runs]');
		await page.waitForSelector('table.runs tbody tr');
		const rows = await page.locator('table.runs tbody tr').evaluateAll((rs) => rs.map((r) => `${r.cells[1].textContent}:${r.cells[2].textContent}:${r.dataset.state}`));
		const want = [`backup:${RSYNC_JOB}:done`, ...(SLOW_JOB ? [`backup:${SLOW_JOB}:cancelled`] : []), ...(EXPORT_DIR ? [`export:${RSYNC_JOB}:done`] : [])];
		const missing = want.filter((w) => !rows.includes(w));
		return missing.length === 0 || `missing ${missing.join(', ')}; rows ${rows.join(' | ')}`;
	});
	await step('selecting a run shows its log as text', async () => {
		const id = await page.locator('table.runs tbody tr[data-state=done]', { hasText: 'backup' }).first().getAttribute('data-run');
		await page.locator(`table.runs tbody tr[data-run="${id}"] button.link`).click();
		await page.waitForSelector('#run-log');
		const t = await page.textContent('#run-log');
		return t.includes(RSYNC_JOB) || `log: ${t.slice(0, 300)}`;
	});
	await step('the Runs view lists the runs of the catalog too (command line, cron), with dates in the one format', async () => {
		await page.waitForSelector('#catalog-runs tr[data-job]');
		const rows = await page.locator('#catalog-runs tr[data-job]').evaluateAll((rs) => rs.map((r) => `${r.dataset.job}:${r.dataset.status}`));
		const starts = await page.locator('#catalog-runs td[data-label="Start"]').allTextContents();
		const cli = FLAKY_JOB ? rows.includes(`${FLAKY_JOB}:ERROR`) : rows.includes(`${XSS_JOB}:ERROR`);
		const bad = starts.filter((d) => !ISO_OFFSET.test(d));
		return (cli && bad.length === 0) || `rows ${rows.join(', ')}; dates ${bad.join(', ')}`;
	});
	await page.screenshot({ path: path.join(SHOTS, 'browser-runs.png'), fullPage: true });

	// ------------------------------------------------------------ config reload
	if (SERVE_PID && RELOAD_CONF) {
		const good = fs.readFileSync(RELOAD_CONF, 'utf8');
		await step('a broken config after SIGHUP: the dashboard shows its errors, the jobs stay', async () => {
			await page.goto(`${BASE}/#/`);
			await row(RSYNC_JOB).waitFor();
			fs.appendFileSync(RELOAD_CONF, '\n[broken-job]\ntype = null\nthis line has no equals sign\n');
			process.kill(SERVE_PID, 'SIGHUP');
			const banner = page.locator('#config-errors:not([hidden])');
			await banner.waitFor({ timeout: 30000 });
			const t = await banner.textContent();
			await page.screenshot({ path: path.join(SHOTS, 'browser-reload-banner.png'), fullPage: true });
			const jobs = await page.locator('tr[data-job]').count();
			const note = await page.locator('#config-reloaded:not([hidden])').count();
			if (note !== 0) return 'a "Configuration reloaded" notice beside the errors';
			return (t.includes(RELOAD_CONF) && /broken-job|no equals|line/.test(t) && /previous version stays in use/.test(t) && jobs > 0) || `banner: ${t}; rows ${jobs}`;
		});
		await step('the config fixed and reloaded: the banner goes away, a notice says it was reloaded', async () => {
			fs.writeFileSync(RELOAD_CONF, good);
			process.kill(SERVE_PID, 'SIGHUP');
			await page.waitForSelector('#config-errors', { state: 'hidden', timeout: 30000 });
			await page.waitForSelector('#config-reloaded:not([hidden])', { timeout: 30000 });
			const note = await page.textContent('#config-reloaded');
			return ((await row(RSYNC_JOB).count()) === 1 && /Configuration reloaded/.test(note)) || `notice "${note}"; the jobs are gone?`;
		});
	}

	// ------------------------------------------------------------ wide screen
	await step('on a wide screen (1920 px) the dashboard uses the width', async () => {
		await page.setViewportSize({ width: 1920, height: 1080 });
		await page.goto(`${BASE}/#/`);
		await page.waitForSelector('tr[data-job]');
		const [mw, w] = await page.evaluate(() => [document.querySelector('main').getBoundingClientRect().width, window.innerWidth]);
		await page.screenshot({ path: path.join(SHOTS, 'browser-wide.png'), fullPage: true });
		await page.setViewportSize({ width: 1280, height: 900 });
		return mw >= 0.9 * w || `main ${mw} px of ${w}`;
	});

	// ------------------------------------------------------------ narrow screen
	await step('on a phone-sized screen the dashboard has no horizontal scroll', async () => {
		await page.setViewportSize({ width: 390, height: 844 });
		await page.goto(`${BASE}/#/`);
		await page.waitForSelector('tr[data-job]');
		const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
		await page.screenshot({ path: path.join(SHOTS, 'browser-mobile.png'), fullPage: true });
		return sw <= w || `scrollWidth ${sw} > ${w}`;
	});
	await step('on a phone (390 px) every job card is at most 120 px high', async () => {
		const hs = await page.locator('tr[data-job]').evaluateAll((rs) => rs.map((r) => [r.dataset.job, Math.round(r.getBoundingClientRect().height)]));
		const tall = hs.filter(([, hh]) => hh > 120);
		const max = Math.max(...hs.map(([, hh]) => hh));
		console.log(`# phone: ${hs.length} job cards, the highest ${max} px`);
		return (hs.length > 0 && tall.length === 0) || `too high: ${tall.map((x) => x.join(' ')).join(', ')}`;
	});
	await step('on a phone the Runs view has no horizontal scroll, a catalog run is two lines (at most 60 px)', async () => {
		await page.goto(`${BASE}/#/runs`);
		await page.waitForSelector('#catalog-runs tr[data-job]');
		const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
		const hs = await page.locator('#catalog-runs tr[data-job]').evaluateAll((rs) => rs.map((r) => Math.round(r.getBoundingClientRect().height)));
		await page.screenshot({ path: path.join(SHOTS, 'browser-mobile-runs.png'), fullPage: true });
		await page.setViewportSize({ width: 1280, height: 900 });
		console.log(`# phone: ${hs.length} catalog runs, the highest ${Math.max(...hs)} px`);
		return (sw <= w && hs.every((hh) => hh <= 60)) || `scrollWidth ${sw} > ${w}, or catalog runs over 60 px: ${hs.join(' ')}`;
	});
	await step('a fresh navigation shows the job rows (load time printed, not asserted: speed belongs in bench/)', async () => {
		await page.goto('about:blank');
		const t0 = Date.now();
		await page.goto(`${BASE}/#/`);
		await page.waitForSelector('tr[data-job]');
		const ms = Date.now() - t0;
		const res = await page.evaluate(() => performance.getEntriesByType('resource').length + 1);
		console.log(`# dashboard: ${ms} ms from navigation to the job rows, ${res} requests`);
		return (await page.locator('tr[data-job]').count()) > 0 || 'no job rows';
	});

	if (RESTORE_DIR) await restoreToHostSteps();

	await step('no CSP violation or script error on any page', async () => problems.length === 0 || problems.join('\n'));

	// ------------------------------------------------------------ logout
	await step('log out returns to the login page', async () => {
		await page.goto(`${BASE}/#/`);
		await page.waitForSelector('#logout');
		await Promise.all([page.waitForURL((u) => u.pathname === '/login'), page.click('#logout')]);
		return true;
	});
	await step('after logout the dashboard redirects to the login page', async () => {
		await page.goto(`${BASE}/`);
		await page.waitForSelector('#login-form');
		return new URL(page.url()).pathname === '/login' || page.url();
	});
	await step('after logout the API answers 401', async () => {
		const r = await page.request.get(`${BASE}/api/v1/jobs`);
		return r.status() === 401 || `status ${r.status()}`;
	});

	// ------------------------------------------------------------ viewer
	if (VIEWER) {
		await step('a viewer sees the jobs but no Run now / Cleanup buttons', async () => {
			await login(VIEWER, VIEWER_PW);
			await page.waitForSelector('tr[data-job]');
			const b = await page.locator('button[data-action]').count();
			const role = await page.textContent('#user-role');
			return (b === 0 && role === 'viewer') || `buttons ${b}, role ${role}`;
		});
		await step('a viewer gets no Start export button nor run buttons on a job page', async () => {
			await page.goto(`${BASE}/#/export`);
			await page.waitForSelector('.export-form');
			const start = await page.locator('#export-start').count();
			await page.goto(`${BASE}/#/job/${encodeURIComponent(RSYNC_JOB)}`);
			await page.waitForSelector('.job-head h1');
			const b = await page.locator('button[data-action]').count();
			return (start === 0 && b === 0) || `start ${start}, buttons ${b}`;
		});
	}
	// ------------------------------------------------------------ login messages
	if (NOUSERS_URL) {
		await step('with no users yet the login page says how to create one', async () => {
			await page.goto(`${NOUSERS_URL}/login`);
			await page.waitForSelector('#login-message:not([hidden])');
			const t = await page.textContent('#login-message');
			return /no users yet/i.test(t) && t.includes('tisbackup user add NAME --role admin') ? true : `message: ${t}`;
		});
	}
	await step('repeated wrong passwords trip the rate limit and the page says so', async () => {
		let last = '';
		for (let i = 0; i < 12; i++) {
			await page.goto(`${BASE}/login`);
			await page.fill('#username', `nobody${i}`);
			await page.fill('#password', 'wrong');
			const resp = page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST');
			await page.click('#login-form button[type=submit]');
			const r = await resp;
			await page.waitForSelector('#login-message:not([hidden])');
			last = await page.textContent('#login-message');
			if (r.status() === 429) return /too many/i.test(last) || `429 but message: ${last}`;
		}
		return `no 429 after 12 failures; last message: ${last}`;
	});
} catch (e) {
	ok(false, 'browser session', e.stack || e.message);
} finally {
	await close();
}
console.log(`# screenshots in ${SHOTS}`);
done();

/*
 * "Restore to host…" of the snapshot browser (browse.js), as the admin:
 * the in-place choice wants the typed confirmation, a dry run of "sub" to
 * RESTORE_DIR is queued and writes nothing, then the real one writes it.
 */
async function restoreToHostSteps() {
	/* The id of the run the form queued, once it ended: its state. */
	async function queuedRunEnds() {
		await page.waitForSelector('#restore-form .restore-done:not([hidden]) code');
		const id = await page.textContent('#restore-form .restore-done code');
		const deadline = Date.now() + RUN_TIMEOUT;
		for (;;) {
			const st = await page.evaluate(async (i) => (await (await fetch(`/api/v1/runs/${i}`)).json()).state, id);
			if (['done', 'failed', 'cancelled'].includes(st) || Date.now() > deadline) return st;
			await page.waitForTimeout(250);
		}
	}
	await step('the browser panel shows "Restore to host…" to an admin, and its form', async () => {
		await page.goto(`${BASE}/#/job/${encodeURIComponent(RSYNC_JOB)}`);
		await page.waitForSelector('#browse table.browse');
		await page.locator('#browse button.link', { hasText: 'sub/' }).click();
		await page.waitForSelector('#browse a:has-text("data.bin")');
		await page.click('#restore-open');
		await page.waitForSelector('#restore-form');
		const legend = await page.textContent('#restore-form legend');
		const dry = await page.isChecked('#restore-dry-run');
		return (legend.includes('“sub”') && dry) || `legend ${legend}, dry run ticked ${dry}`;
	});
	await step('an in-place restore without the typed job name is not sent', async () => {
		let posted = 0;
		const count = (r) => r.url().endsWith('/api/v1/runs') && r.method() === 'POST' && posted++;
		page.on('request', count);
		await page.uncheck('#restore-dry-run');
		await page.waitForSelector('#restore-form .restore-confirm:not([hidden])');
		await page.click('#restore-submit');
		await page.waitForSelector('#restore-form .form-error:not([hidden])');
		const t = await page.textContent('#restore-form .form-error');
		page.off('request', count);
		await page.check('#restore-dry-run');
		return (posted === 0 && t.includes(RSYNC_JOB)) || `posts ${posted}, message ${t}`;
	});
	await step('a dry run of the folder to a local DIR is queued, linked to Runs, and writes nothing', async () => {
		await page.check('#restore-form input[name="restore-target"][value="local"]');
		await page.fill('#restore-local-dir', RESTORE_DIR);
		await page.click('#restore-submit');
		const st = await queuedRunEnds();
		const link = await page.getAttribute('#restore-run-link', 'href');
		return (st === 'done' && link === '#/runs' && !fs.existsSync(RESTORE_DIR)) || `state ${st}, link ${link}, exists ${fs.existsSync(RESTORE_DIR)}`;
	});
	await step('the same form without the dry run restores the folder', async () => {
		await page.uncheck('#restore-dry-run');
		await page.click('#restore-submit');
		await page.waitForFunction(() => !document.querySelector('#restore-form .restore-done')?.textContent.startsWith('Dry run'));
		const st = await queuedRunEnds();
		const f = path.join(RESTORE_DIR, 'sub', 'data.bin');
		return (st === 'done' && fs.existsSync(f)) || `state ${st}, ${f} exists ${fs.existsSync(f)}`;
	});
	await page.screenshot({ path: path.join(SHOTS, 'browser-restore.png'), fullPage: true });
}
