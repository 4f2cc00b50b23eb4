/* Formatting of sizes, durations, ages and catalog dates for display. */

export function bytes(n) {
	if (n === null || n === undefined || n === '' || Number.isNaN(Number(n))) return '—';
	n = Number(n);
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
	let i = 0;
	while (Math.abs(n) >= 1024 && i < units.length - 1) {
		n /= 1024;
		i++;
	}
	return `${i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

/* Seconds -> "45 s", "3 min 12 s", "2 h 05 min", "3 d 4 h". */
export function duration(sec) {
	if (sec === null || sec === undefined || sec === '' || Number.isNaN(Number(sec))) return '—';
	sec = Number(sec);
	if (sec < 60) return `${sec < 10 ? sec.toFixed(1).replace(/\.0$/, '') : Math.round(sec)} s`;
	const m = Math.floor(sec / 60);
	if (m < 60) return `${m} min ${String(Math.round(sec % 60)).padStart(2, '0')} s`;
	const hr = Math.floor(m / 60);
	if (hr < 48) return `${hr} h ${String(m % 60).padStart(2, '0')} min`;
	return `${Math.floor(hr / 24)} d ${hr % 24} h`;
}

/* Hours -> "12 min ago", "5 h ago", "3 d ago"; null -> "never". */
export function age(hours) {
	if (hours === null || hours === undefined) return 'never';
	const m = Math.round(Number(hours) * 60);
	if (m < 1) return 'just now';
	if (m < 60) return `${m} min ago`;
	if (hours < 48) return `${Math.floor(hours)} h ${String(m % 60).padStart(2, '0')} min ago`;
	return `${Math.floor(hours / 24)} d ${Math.floor(hours % 24)} h ago`;
}

/* Catalog/API dates ("2026-11-26T06:12:03.123456" or "... 06:12:03") -> Date (local). */
export function parseDate(s) {
	if (!s) return null;
	const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})/.exec(String(s));
	if (!m) {
		const d = new Date(s);
		return Number.isNaN(d.getTime()) ? null : d;
	}
	if (/(Z|[+-]\d{2}:?\d{2})$/.test(s)) return new Date(s);
	return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/* The browser's UTC offset at d, "+01:00". */
export function offset(d) {
	const m = -d.getTimezoneOffset();
	const a = Math.abs(m);
	return `${m < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/*
 * The one date format of the UI: ISO 8601, local time with its UTC
 * offset, "2026-11-26 06:12:03+01:00" (a space for the T, as RFC 3339
 * allows, for reading); '—' when missing.
 */
export function date(s) {
	const d = s instanceof Date ? s : parseDate(s);
	if (!d) return '—';
	const p = (x) => String(x).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${offset(d)}`;
}

/* A day as the date fields take it, "2026-11-26". */
export function day(d) {
	const p = (x) => String(x).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/*
 * A backup location cut for a narrow column: its last two parts (the job
 * folder and the backup's stamp), "…/web/20261126-06h12m03"; the whole path
 * goes in the cell's title.
 */
export function location(path) {
	if (!path) return '—';
	const parts = String(path).split('/').filter(Boolean);
	return parts.length <= 2 ? String(path) : `…/${parts.slice(-2).join('/')}`;
}

export function count(n) {
	if (n === null || n === undefined || n === '') return '—';
	return Number(n).toLocaleString('en-US');
}
