'use strict';
'require view';
'require form';
'require request';
'require rpc';
'require ui';

/*
 * hotspot's Settings: a form.Map over /etc/config/hotspot. Its fields are the options the owner may set,
 * as hotspot declares them (each capability's options.py, made into hotspot/options.json by the app's
 * generate.py): the same labels, hints, choices and checks as the admin UI and the shipped UCI file.
 * Before a save, hotspotctl checks the values as hotspotd will read them (`settings check`), so a value
 * it would refuse never reaches the file.
 */

var callCheck = rpc.declare({ object: 'luci.hotspot', method: 'check', params: [ 'values' ] });

var SIZE = /^(\d+(\.\d*)?|\.\d+) *(b|kb|mb|gb|tb|kib|mib|gib|tib)?$/i;
var RATE = /^(\d+(\.\d*)?|\.\d+) *(bit|kbit|mbit|gbit)(\/s)?$/i;
var UNITS = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };

/* Each check says what its parser in hotspot accepts; the message is the reader's to act on. */
var CHECKS = {
	choice: function(c, v) {
		return c.values.indexOf(v) > -1 || _('One of: %s').format(c.values.join(', '));
	},
	range: function(c, v) {
		var ok = (c.integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(v) && +v >= c.min && +v <= c.max;
		return ok || _('A number from %s to %s').format(c.min, c.max);
	},
	size: function(c, v) {
		if (c.empty && (v === '' || v.toLowerCase() === 'none'))
			return true;
		return SIZE.test(v) || _('A size such as 2GB or 500MiB') + (c.empty ? ', ' + _('or empty for none') : '');
	},
	rate: function(c, v) {
		var m = RATE.exec(v), bits = m ? parseFloat(m[1]) * UNITS[m[3].toLowerCase()] : 0;
		return (bits >= 8000 && bits <= 1e11) || _('A rate from 8kbit to 100gbit, such as 256kbit or 2mbit');
	},
	duration: function(c, v) {
		return /^(\d{1,12}|(\d{1,9}[smhdw])+)$/i.test(v) || _('A duration such as 30m, 24h or 7d');
	},
	threshold: function(c, v) {
		if (v === '' || v.toLowerCase() === 'none')
			return true;
		var pct = /^(\d+(\.\d+)?)%$/.exec(v);
		if (pct)
			return (+pct[1] > 0 && +pct[1] <= 1000) || _('A percentage above 0 and at most 1000');
		return SIZE.test(v) || _('A percentage of the plan (90%) or a size (18GB); empty for none');
	},
	percents: function(c, v) {
		var words = v.replace(/,/g, ' ').split(/\s+/).filter(Boolean);
		return words.every(function(w) {
			var n = w.replace(/%$/, '');
			return /^\d+$/.test(n) && +n >= 1 && +n <= 100;
		}) || _('Percentages from 1 to 100, such as 80 95 100');
	},
	timezone: function(c, v) {
		return v === '' || /^([A-Za-z_]+(\/[A-Za-z0-9_+-]+)*|UTC[+-]\d{1,2}(:\d\d)?)$/.test(v) ||
			_('A zone such as Asia/Tokyo or UTC+8, or empty for the router\'s time');
	},
	datetime: function(c, v) {
		return v === '' || /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?$/.test(v) ||
			_('A date and time such as 2026-11-28 14:00, or empty');
	}
};

function checker(check) {
	return function(section_id, value) {
		var c = check;
		if (c.kind === 'by') {  /* the range of a start day depends on the period chosen beside it */
			var on = this.section.formvalue(section_id, c.option);
			c = c.by[on] || c.otherwise;
		}
		return CHECKS[c.kind](c, (value == null ? '' : String(value)).trim());
	};
}

return view.extend({
	load: function() {
		return request.get(L.resource('hotspot/options.json'), { cache: true }).then(function(res) {
			return res.json();
		});
	},

	render: function(doc) {
		var m = new form.Map(doc.config, _('Hotspot settings'),
			_('What the owner may change: caps, sign-in, and the data plan with its guard. Every other option is in /etc/config/hotspot, each with its comment.'));
		var s = m.section(form.NamedSection, doc.section, doc.config);
		s.anonymous = true;
		s.addremove = false;
		doc.tabs.forEach(function(t) { s.tab(t.name, _(t.title)); });
		doc.options.forEach(function(o) {
			var opt;
			if (o.choices.length) {
				opt = s.taboption(o.tab, form.ListValue, o.name, _(o.label));
				o.choices.forEach(function(ch) { opt.value(ch[0], _(ch[1])); });
			}
			else {
				opt = s.taboption(o.tab, form.Value, o.name, _(o.label));
				opt.placeholder = o.placeholder ? (/^\d/.test(o.placeholder) ? o.placeholder : _(o.placeholder))
					: o.default;
			}
			opt.default = o.default;
			opt.rmempty = true;
			if (o.hint)
				opt.description = _(o.hint);
			if (o.numeric)
				opt.datatype = 'uinteger';
			opt.validate = checker(o.check);
		});
		this.map = m;
		this.doc = doc;
		return m.render();
	},

	/* The values of the form as the file would spell them, for `hotspotctl settings check`. */
	values: function() {
		var m = this.map, sid = this.doc.section, values = {};
		this.doc.options.forEach(function(o) {
			var v = m.children[0].formvalue(sid, o.name);
			/* an empty field is removed from the file (rmempty): its default holds */
			values[o.name] = (v == null || v === '') ? o.default : String(v).trim();
		});
		return values;
	},

	handleSave: function(ev) {
		var m = this.map;
		return m.parse().then(L.bind(function() {
			return callCheck(this.values());
		}, this)).then(function(res) {
			if (res && res.error) {
				ui.addNotification(null, E('p', {}, _('hotspot refuses these settings: %s').format(res.error)), 'danger');
				return false;
			}
			return m.save().then(function() { return true; });
		}).catch(function(e) {
			ui.addNotification(null, E('p', {}, e.message), 'danger');
			return false;
		});
	},

	handleSaveApply: function(ev, mode) {
		return this.handleSave(ev).then(function(saved) {
			if (saved)
				ui.changes.apply(mode == '0');
		});
	}
});
