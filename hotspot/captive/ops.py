"""The socket's operations of the captive gate: a device's sign-in and the owner's vouchers.

What a client view (clients/ops.py) holds of the gate: admitted: bool; auth: "none" | "click" |
"voucher"; voucher: its code or None; voucher_bytes: the voucher's data (None: no limit);
voucher_used: what all its devices used; voucher_remaining (None: no limit); voucher_expires.

A voucher (`vouchers`, `create_vouchers`, `revoke_voucher`), as `hotspotctl voucher list --json`:
code ("XXXX-XXXX"), batch (int: the vouchers made together), created, bytes (its data; None: no
limit), used, remaining (None: no limit), valid_seconds (from its first use), devices (most allowed),
devices_used, first_used, expires, revoked (ISO | None), state: "unused" | "active" | "used_up" |
"expired" | "revoked".
"""

from hotspot.core.contract import ADMIN, GUEST, op

OPERATIONS = (
    op("captive", GUEST, "ip", '{"captive": bool, "seconds_remaining", "bytes_remaining": int|None, '
       '"can_extend": bool}', "RFC 8908 state of the device at `ip`."),
    op("admit", GUEST, "ip, voucher=None", "client view",
       "Admit the device at `ip` (click: accepted terms; voucher: a code, any case, dash optional); "
       "VoucherRefused when the code cannot admit it."),
    op("vouchers", ADMIN, "", "[voucher]", "Every voucher, oldest first."),
    op("create_vouchers", ADMIN, "count, data, valid, devices", "[voucher]",
       "A batch of `count` (1-500) vouchers of `data` SIZE|none shared by up to `devices` (1-50), valid "
       "for `valid` DURATION from the first use; BackendError names the bad field."),
    op("revoke_voucher", ADMIN, "code", "voucher",
       "Revoke a voucher; its devices lose their session at once. BackendError if unknown."),
)
