/*
 * "Import into SR…" on the page of a xen-xva job, for admins: queues
 * `tisbackup restore --import-to SR` of one of the job's backups (POST
 * /api/v1/runs, action restore, options at + import_to [+ dry_run];
 * docs/restore.md "xen-xva: --import-to SR"). The XVA is uploaded to the
 * pool's /import into the storage repository named (name label or UUID)
 * as a new VM; the job's own VM is never touched. A dry run by default.
 * The API checks every field and names the one it refuses.
 */
import { api, isAdmin } from './api.js';
import { stamps } from './browse.js';
import { h, replace } from './dom.js';

/* The panel, or null for a viewer or a job without a backup. */
export function importPanel(name, ret) {
	const list = stamps(ret, true);
	if (!isAdmin() || list.length === 0) return null;
	const host = h('div', { class: 'restore-host' });

	function open() {
		const msg = h('p', { class: 'form-error', role: 'alert', hidden: true });
		const done = h('p', { class: 'restore-done', role: 'status', hidden: true });
		const at = h('select', { id: 'import-at', 'aria-label': 'Backup' }, list.map((s) => h('option', { value: s, text: s })));
		const sr = h('input', { type: 'text', id: 'import-sr', autocomplete: 'off', placeholder: 'Local storage (name label or UUID)', 'aria-label': 'Storage repository' });
		const dry = h('input', { type: 'checkbox', id: 'import-dry-run', checked: true });
		const form = h(
			'form',
			{ class: 'restore-form', id: 'import-form' },
			h(
				'fieldset',
				{},
				h('legend', { text: `Import a backup of ${name} as a new VM` }),
				h('p', { class: 'indent' }, h('label', { for: 'import-at', text: 'Backup: ' }), at),
				h('p', { class: 'indent' }, h('label', { for: 'import-sr', text: 'Storage repository: ' }), sr),
				h('label', { class: 'check' }, dry, 'Dry run: check the backup and the SR, import nothing'),
			),
			msg,
			h('p', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'import-submit', text: 'Queue import' }), ' ', h('button', { type: 'button', class: 'btn', text: 'Close', onclick: () => form.remove() })),
			done,
		);
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			msg.hidden = true;
			const options = { at: at.value, import_to: sr.value, dry_run: dry.checked };
			try {
				const r = await api('/api/v1/runs', { method: 'POST', body: { action: 'restore', sections: [name], options } });
				replace(done, `${options.dry_run ? 'Dry run' : 'Import'} queued: run `, h('code', { text: String(r.id) }), r.existing ? ' (the same request was already queued)' : '', ' — follow it in ', h('a', { href: '#/runs', text: 'Runs' }), '.');
				done.hidden = false;
			} catch (e) {
				msg.textContent = e.message; /* names the field: "options.import_to: ..." */
				msg.hidden = false;
			}
		});
		host.replaceChildren(form);
		sr.focus();
	}

	return h(
		'section',
		{ class: 'panel', id: 'xva-import' },
		h('h2', { text: 'Import into the pool' }),
		h('p', { class: 'muted', text: "Upload one of the job's XVA files into a storage repository of the pool, as a new VM." }),
		h('p', { class: 'actions' }, h('button', { type: 'button', class: 'btn', id: 'import-open', text: 'Import into SR…', onclick: open })),
		host,
	);
}
