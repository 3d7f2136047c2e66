"""The sandbox's hand-operated page (`/sandbox/`): play a customer, see what the business sent."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WhatsApp sandbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#efeae2;color:#111}
header{background:#075e54;color:#fff;padding:10px 16px}
main{display:grid;grid-template-columns:340px 1fr;gap:16px;padding:16px}
form,section{background:#fff;border-radius:8px;padding:12px}
label{display:block;margin:6px 0 2px;font-weight:600}
input,select,textarea{width:100%;box-sizing:border-box;padding:6px}
button{margin-top:10px;background:#25d366;border:0;padding:8px 14px;border-radius:6px;cursor:pointer}
.msg{margin:6px 0;padding:6px 10px;border-radius:6px;max-width:70%}
.in{background:#fff;border:1px solid #ddd}.out{background:#d9fdd3;margin-left:auto}
.meta{color:#667;font-size:12px}pre{white-space:pre-wrap;margin:0}
</style></head><body>
<header><b>WhatsApp sandbox</b> &middot; point WHATSAPP_API_BASE_URL at this server</header>
<main>
<form id="send">
<label>Business number</label><select id="number"></select>
<label>Customer (phone digits or BSUID)</label><input id="customer" value="15550101234">
<label>Name</label><input id="name" value="Sandbox Customer">
<label>Type</label><select id="type">
<option>text</option><option>image</option><option>video</option><option>audio</option>
<option>voice</option><option>document</option><option>sticker</option><option>location</option>
<option>contacts</option><option>interactive</option><option>button</option><option>reaction</option>
<option>order</option><option>system</option><option>unsupported</option>
<option>edit</option><option>revoke</option></select>
<label>Text / caption</label><textarea id="text">Hello, I would like to order</textarea>
<label>Type object (JSON, optional)</label><textarea id="content" rows="3"></textarea>
<label>Reply to / react to / edit / delete wamid (optional)</label><input id="ctx">
<label>Payload shape</label><select id="shape"><option>new</option><option>old</option></select>
<button>Send to the CRM</button><p id="result" class="meta"></p>
<label>24-hour window of this customer</label>
<button type="button" id="close-window">Close it (as if 24 h passed)</button>
<button type="button" id="open-window">Open it (as if they wrote now)</button>
<p id="window" class="meta"></p>
<label>WhatsApp in 2026 (issue 19)</label>
<button type="button" data-play="preferences" data-body='{"value":"stop"}'>Customer stops marketing</button>
<button type="button" data-play="preferences" data-body='{"value":"resume"}'>Customer resumes marketing</button>
<button type="button" data-play="echo" data-body='{}'>Owner writes from the Business app (text above)</button>
<button type="button" data-play="call" data-body='{"seconds":0}'>Missed call</button>
<button type="button" data-play="call" data-body='{"seconds":192}'>Call of 3 min 12 s</button>
<button type="button" data-global="history" data-body='{}'>History backfill of this customer</button>
<button type="button" data-global="history" data-body='{"declined":true}'>History share declined</button>
<button type="button" data-global="account" data-body='{"event":"restrict"}'>Account restricted</button>
<button type="button" data-global="account" data-body='{"event":"lift"}'>Restriction lifted</button>
<p id="played" class="meta"></p>
</form>
<section><h3>Conversations</h3><div id="chats">No customers yet.</div></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
async function numbers() {
  const r = await (await fetch('numbers')).json();
  $('number').innerHTML = r.numbers.map(n => `<option value="${n.phone_number_id}">` +
    `${n.display_phone_number} (${n.phone_number_id})</option>`).join('');
}
function esc(s) { const d = document.createElement('div'); d.textContent = s; return d.innerHTML; }
function summary(m) {
  const t = m.type, o = m[t] || m.text || {};
  return t === 'text' ? (o.body || '') : (o.caption || o.body || o.emoji || o.name || JSON.stringify(o));
}
async function chats() {
  const r = await (await fetch('customers')).json();
  if (!r.customers.length) return;
  $('chats').innerHTML = r.customers.map(c => {
    const rows = c.inbound.map(i => ({at: i.at, html: `<div class="msg in"><pre>${esc(summary(i.message))}</pre>` +
      `<div class="meta">${i.type} &middot; CRM answered ${i.crm_status}</div></div>`}))
      .concat(c.sent.map(s => ({at: s.created_at, html: `<div class="msg out"><pre>${esc(summary(s.request))}</pre>` +
      `<div class="meta">${s.type} &middot; ${s.status} &middot; ${esc(s.wamid.slice(0, 24))}</div></div>`})))
      .sort((a, b) => a.at - b.at).map(x => x.html).join('');
    return `<h4>${esc(c.name || '')} ${esc(c.phone || '')} ${esc(c.user_id || '')}</h4>${rows}`;
  }).join('');
}
$('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = {type: $('type').value, phone_number_id: $('number').value || null, name: $('name').value,
                text: $('text').value || null, shape: $('shape').value};
  if ($('content').value.trim()) body.content = JSON.parse($('content').value);
  if ($('ctx').value.trim()) {
    if (body.type === 'reaction') body.content = {message_id: $('ctx').value.trim(), emoji: $('text').value};
    else body.context_message_id = $('ctx').value.trim();
  }
  const r = await fetch(`customers/${encodeURIComponent($('customer').value)}/send`,
    {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const j = await r.json();
  $('result').textContent = r.ok ? `sent ${j.wamid}: CRM answered ${j.status_code}` : JSON.stringify(j.detail);
  chats();
});
async function setWindow(open) {
  const body = {phone_number_id: $('number').value || null,
                last_inbound_at: open ? Date.now() / 1000 : null};
  const r = await fetch(`customers/${encodeURIComponent($('customer').value)}/window`,
    {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const j = await r.json();
  $('window').textContent = r.ok ? (j.open ? 'The window is open: free-form messages are delivered.'
    : 'The window is closed: only templates are accepted (others fail with error 131047).')
    : JSON.stringify(j.detail);
}
document.querySelectorAll('[data-play],[data-global]').forEach((b) => b.addEventListener('click', async () => {
  const body = Object.assign(JSON.parse(b.dataset.body), {phone_number_id: $('number').value || null});
  const who = encodeURIComponent($('customer').value);
  if (b.dataset.play === 'echo') body.text = $('text').value;
  if (b.dataset.global === 'history' && !body.declined) body.customers = [$('customer').value];
  const url = b.dataset.play ? `customers/${who}/${b.dataset.play}` : b.dataset.global;
  const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const j = await r.json();
  $('played').textContent = r.ok ? `${b.textContent}: CRM answered ${j.status_code}` : JSON.stringify(j.detail);
}));
$('close-window').addEventListener('click', () => setWindow(false));
$('open-window').addEventListener('click', () => setWindow(true));
numbers(); chats(); setInterval(chats, 2000);
</script></body></html>
"""
