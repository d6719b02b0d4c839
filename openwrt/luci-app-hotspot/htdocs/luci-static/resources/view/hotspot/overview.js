'use strict';
'require view';
'require dom';
'require poll';
'require rpc';
'require uci';
'require ui';

/*
 * hotspot's Overview: the data plan's gauge and forecast, the uplink and the modem, every client with its
 * usage, state and live rate, and the owner's actions on a client (hotspotctl's: cap, throttle, block,
 * admit, top up). Everything comes from the rpcd plugin luci.hotspot, which answers with hotspotctl --json.
 */

var callStatus = rpc.declare({ object: 'luci.hotspot', method: 'status' });
var callClients = rpc.declare({ object: 'luci.hotspot', method: 'clients', expect: { clients: [] } });
var callAct = rpc.declare({ object: 'luci.hotspot', method: 'act', params: [ 'action', 'mac', 'value' ] });

var POLL = 5;  /* seconds between two reads of the clients: the live rate is the bytes between them */

/* Sizes and rates in powers of 1000, as hotspotctl spells them. */
function size(n) {
	if (n == null)
		return '–';
	var units = [ 'B', 'KB', 'MB', 'GB', 'TB' ], i = 0;
	while (n >= 1000 && i < units.length - 1) {
		n /= 1000;
		i++;
	}
	return (i && n < 100 ? n.toFixed(1).replace(/\.0$/, '') : Math.round(n)) + ' ' + units[i];
}

function rate(bits) {
	var units = [ 'bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s' ], i = 0;
	while (bits >= 1000 && i < units.length - 1) {
		bits /= 1000;
		i++;
	}
	return (i && bits < 100 ? bits.toFixed(1).replace(/\.0$/, '') : Math.round(bits)) + ' ' + units[i];
}

function day(iso) {
	var lang = document.documentElement.lang || undefined;
	return iso ? new Date(iso).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' }) : '–';
}

var CYCLES = { daily: _('Daily'), weekly: _('Weekly'), monthly: _('Monthly'), pass: _('Pass') };

var STATES = {
	ok: [ _('OK'), 'success' ],
	warned: [ _('Near its cap'), 'warning' ],
	capped: [ _('Capped'), 'danger' ],
	throttled: [ _('Slowed'), 'warning' ],
	blocked: [ _('Blocked'), 'danger' ]
};

function badge(state) {
	var s = STATES[state] || [ state, '' ];
	return E('span', { 'class': 'label hotspot-state ' + s[1] }, s[0]);
}

function row(label, value) {
	return E('tr', { 'class': 'tr' }, [
		E('td', { 'class': 'td left', 'width': '33%' }, label),
		E('td', { 'class': 'td left' }, value)
	]);
}

function gauge(percent, text) {
	var p = Math.max(0, Math.min(100, percent || 0));
	return E('div', { 'class': 'cbi-progressbar', 'title': text }, E('div', { 'style': 'width:%.2f%%'.format(p) }));
}

return view.extend({
	rates: {},  /* mac -> { at, up, down, speed_up, speed_down }: the bytes at the last read */

	load: function() {
		return Promise.all([ callStatus(), callClients(), uci.load('hotspot').catch(function() {}) ]);
	},

	/* -- the data plan ---------------------------------------------------------------------------------- */

	renderPlan: function(status) {
		var p = (status && status.plan) || {};
		if (status && status.error)
			return E('div', { 'class': 'alert-message warning' }, status.error);
		var rows = [];
		if (p.plan_quota != null) {
			var text = _('%s of %s used (%d%%)').format(size(p.plan_used), size(p.allowance),
				Math.round(p.plan_percent || 0));
			rows.push(row(_('Used'), gauge(p.plan_percent, text)));
			rows.push(row(_('Left'), size(p.plan_left)));
		}
		else {
			rows.push(row(_('Used'), _('No quota set: %s used this cycle').format(size(p.plan_used))));
		}
		if (p.forecast_end_bytes != null) {
			var likely = _('%s by the cycle\'s end (likely %s to %s)').format(size(p.forecast_end_bytes),
				size(p.forecast_low), size(p.forecast_high));
			if (p.runs_out_at)
				likely += ' · ' + _('runs out %s').format(day(p.runs_out_at));
			rows.push(row(_('Forecast'), likely));
		}
		rows.push(row(_('Cycle'), _('%s, ends %s').format(CYCLES[p.cycle || p.period] || p.cycle || p.period,
			day(p.cycle_end || p.period_end))));
		if (p.guard && p.guard.state && p.guard.state !== 'ok')
			rows.push(row(_('Plan guard'), E('strong', {}, p.guard.state)));
		return E('table', { 'class': 'table' }, rows);
	},

	/* -- the uplink and the modem ----------------------------------------------------------------------- */

	renderUplink: function(status) {
		var rows = [];
		((status && status.uplink) || []).forEach(function(u) {
			var notes = [ u.present ? _('present') : _('absent') ];
			if (!u.metered)
				notes.push(_('not metered'));
			if (u.active)
				notes.push(_('in use'));
			rows.push(row(_('Uplink %s').format(u.device), notes.join(', ')));
		});
		var m = status && status.modem;
		if (m && !m.error) {
			var tech = (m.access_technologies || []).join('/').toUpperCase();
			rows.push(row(_('Modem'), [ m.operator_name || '–', tech, m.state ].filter(Boolean).join(' · ')));
			if (m.signal_quality != null)
				rows.push(row(_('Signal'), gauge(m.signal_quality,
					m.signal_quality + '%' + (m.rsrp != null ? ' · RSRP %d dBm'.format(m.rsrp) : ''))));
			rows.push(row(_('Roaming'), m.roaming ? _('yes') : _('no')));
		}
		else if (m && m.error) {
			rows.push(row(_('Modem'), m.error));
		}
		else {
			rows.push(row(_('Modem'), _('none')));
		}
		var d = (status && status.daemon) || {};
		rows.push(row(_('hotspotd'), d.running ? _('running (pid %d)').format(d.pid) : _('not running')));
		return E('table', { 'class': 'table' }, rows);
	},

	/* -- the clients ------------------------------------------------------------------------------------ */

	speeds: function(clients) {
		var now = Date.now(), rates = this.rates;
		clients.forEach(function(c) {
			var last = rates[c.mac];
			var next = { at: now, up: c.bytes_up, down: c.bytes_down, speed_up: 0, speed_down: 0 };
			if (last && now > last.at) {
				var seconds = (now - last.at) / 1000;
				next.speed_up = Math.max(0, (c.bytes_up - last.up) * 8 / seconds);
				next.speed_down = Math.max(0, (c.bytes_down - last.down) * 8 / seconds);
			}
			rates[c.mac] = next;
		});
	},

	act: function(action, mac, value) {
		return callAct(action, mac, value == null ? '' : value).then(L.bind(function(res) {
			if (res && res.error) {
				ui.addNotification(null, E('p', {}, res.error), 'danger');
				return false;
			}
			return this.refresh().then(function() { return true; });
		}, this));
	},

	ask: function(action, mac, title, hint, placeholder) {
		var input = E('input', { 'class': 'cbi-input-text', 'type': 'text', 'placeholder': placeholder,
			'style': 'width:100%' });
		var self = this;
		ui.showModal(title, [
			E('p', {}, hint),
			input,
			E('div', { 'class': 'right', 'style': 'margin-top:1em' }, [
				E('button', { 'class': 'btn', 'click': ui.hideModal }, _('Cancel')), ' ',
				E('button', { 'class': 'btn cbi-button-action', 'click': ui.createHandlerFn(self, function() {
					return self.act(action, mac, input.value.trim()).then(function(done) {
						if (done)
							ui.hideModal();
					});
				}) }, _('Apply'))
			])
		]);
		input.focus();
	},

	actions: function(c) {
		var self = this, name = c.alias || c.hostname || c.mac;
		function button(label, kind, fn) {
			return E('button', { 'class': 'btn cbi-button cbi-button-' + kind, 'click': ui.createHandlerFn(self, fn) },
				label);
		}
		var buttons = [
			button(_('Cap…'), 'action', function() {
				self.ask('cap', c.mac, _('Cap for %s').format(name),
					_('Bytes per period, e.g. 2GB or 500MiB; "none" lifts the cap.'), '2GB');
			}),
			button(_('Throttle…'), 'action', function() {
				self.ask('throttle', c.mac, _('Throttle %s').format(name),
					_('A rate, e.g. 1mbit or 256kbit; "none" lifts the throttle.'), '1mbit');
			}),
			button(_('Top up…'), 'action', function() {
				self.ask('topup', c.mac, _('Top up %s').format(name),
					_('Added to this period\'s cap, e.g. 500MB.'), '500MB');
			}),
			c.owner_blocked
				? button(_('Unblock'), 'positive', function() { return self.act('unblock', c.mac); })
				: button(_('Block'), 'negative', function() { return self.act('block', c.mac); })
		];
		if (c.admitted === false)
			buttons.push(button(_('Admit'), 'positive', function() { return self.act('admit', c.mac); }));
		return E('div', { 'class': 'hotspot-actions' }, buttons);
	},

	renderClients: function(clients) {
		var self = this;
		var head = E('tr', { 'class': 'tr table-titles' }, [
			E('th', { 'class': 'th' }, _('Device')),
			E('th', { 'class': 'th' }, _('State')),
			E('th', { 'class': 'th' }, _('Used')),
			E('th', { 'class': 'th' }, _('Cap')),
			E('th', { 'class': 'th' }, _('Now')),
			E('th', { 'class': 'th cbi-section-actions' }, _('Actions'))
		]);
		var rows = clients.slice().sort(function(a, b) { return b.bytes_total - a.bytes_total; }).map(function(c) {
			var r = self.rates[c.mac] || {};
			var limits = [ c.cap != null ? size(c.cap) : _('none') ];
			if (c.rate_limit)
				limits.push(rate(c.rate_limit));
			return E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td', 'data-title': _('Device') }, [
					E('strong', {}, c.alias || c.hostname || _('unnamed')), E('br'),
					E('small', {}, c.mac), E('br'),
					E('small', { 'class': 'hotspot-ips' }, (c.ips || []).join(' '))
				]),
				E('td', { 'class': 'td', 'data-title': _('State') }, badge(c.state)),
				E('td', { 'class': 'td', 'data-title': _('Used') }, [
					size(c.bytes_total), E('br'),
					E('small', { 'class': 'hotspot-nowrap' }, '↓ %s ↑ %s'.format(size(c.bytes_down), size(c.bytes_up)))
				]),
				E('td', { 'class': 'td hotspot-nowrap', 'data-title': _('Cap') },
					limits.reduce(function(all, l) { return all.concat(all.length ? [ E('br'), l ] : [ l ]); }, [])),
				E('td', { 'class': 'td hotspot-rate', 'data-title': _('Now') },
					'↓ %s ↑ %s'.format(rate(r.speed_down || 0), rate(r.speed_up || 0))),
				E('td', { 'class': 'td cbi-section-actions', 'data-title': _('Actions') }, self.actions(c))
			]);
		});
		if (!rows.length)
			rows.push(E('tr', { 'class': 'tr placeholder' }, E('td', { 'class': 'td' }, E('em', {}, _('No clients yet.')))));
		return E('table', { 'class': 'table cbi-section-table hotspot-clients' }, [ head ].concat(rows));
	},

	/* -- the full admin UI, without a second password --------------------------------------------------- */

	adminURL: function() {
		var tls = uci.get('hotspot', 'main', 'tls_cert') && uci.get('hotspot', 'main', 'tls_key');
		var host = uci.get('hotspot', 'main', 'portal_name') || window.location.hostname;
		var port = tls ? (uci.get('hotspot', 'main', 'tls_port') || '8443')
			: (uci.get('hotspot', 'main', 'portal_port') || '8080');
		return (tls ? 'https://' : 'http://') + host + ':' + port + '/admin/luci';
	},

	/* A form posted to the portal: hotspotd asks rpcd whether this LuCI session may manage hotspot and,
	   if so, opens the admin UI (history, vouchers, alerts) as a login would. The id travels in the
	   body, never in a URL. */
	renderAdmin: function() {
		return E('form', { 'method': 'post', 'action': this.adminURL(), 'target': '_blank',
			'class': 'hotspot-admin' }, [
			E('input', { 'type': 'hidden', 'name': 'sid', 'value': rpc.getSessionID() }),
			E('button', { 'class': 'btn cbi-button cbi-button-apply', 'type': 'submit' },
				_('Open the full admin UI')),
			' ',
			E('span', { 'class': 'hotspot-hint' }, _('History, vouchers and alerts; no second password.'))
		]);
	},

	refresh: function() {
		return Promise.all([ callStatus(), callClients() ]).then(L.bind(function(res) {
			this.speeds(res[1]);
			dom.content(this.nodes.plan, this.renderPlan(res[0]));
			dom.content(this.nodes.uplink, this.renderUplink(res[0]));
			dom.content(this.nodes.clients, this.renderClients(res[1]));
		}, this));
	},

	render: function(data) {
		this.speeds(data[1]);
		this.nodes = {
			plan: E('div', { 'class': 'hotspot-plan' }, this.renderPlan(data[0])),
			uplink: E('div', { 'class': 'hotspot-uplink' }, this.renderUplink(data[0])),
			clients: E('div', { 'class': 'hotspot-clients' }, this.renderClients(data[1]))
		};
		poll.add(L.bind(this.refresh, this), POLL);
		return E('div', { 'class': 'cbi-map' }, [
			E('style', {}, [
				'.hotspot-state { white-space:nowrap; }',
				'.hotspot-state.success { background:#2e7d32; } .hotspot-state.warning { background:#ef6c00; }',
				'.hotspot-state.danger { background:#c62828; }',
				'.hotspot-actions { display:flex; flex-wrap:wrap; gap:.3em; justify-content:flex-end; }',
				'@media (min-width: 800px) { .hotspot-actions { flex-wrap:nowrap; } }',
				'.hotspot-hint { color:#666; font-size:90%; }',
				'.hotspot-actions .btn { margin:0; }',
				'.hotspot-rate, .hotspot-nowrap { white-space:nowrap; }',
				'.hotspot-ips { word-break:break-all; }',
				'.hotspot-admin { margin:.5em 0 1em; }'
			].join('\n')),
			E('h2', {}, _('Hotspot')),
			E('div', { 'class': 'cbi-map-descr' },
				_('Per-client usage on the metered uplink, counted and capped in the kernel.')),
			this.renderAdmin(),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Data plan')), this.nodes.plan ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Uplink')), this.nodes.uplink ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Clients')), this.nodes.clients ])
		]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
