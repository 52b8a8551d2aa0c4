# Drives the unmodified `wechatpayv3` SDK against a saoma server. Only `_core._gate_way` is changed.
# Usage: sdk_client.py MODE MERCHANT_JSON BASE_URL WORK_DIR SAOMA_BIN DATA_DIR PHONE
# (MODE: public_key | certificate). Paying is the user's side: `saoma pay` as PHONE.
import json, os, subprocess, sys, time
from wechatpayv3 import WeChatPay, WeChatPayType

mode, merchant_file, base, work, saoma, data_dir, phone = sys.argv[1:8]
m = json.load(open(merchant_file))

# The merchant's callback endpoint: the SDK's own callback() verifies and decrypts what saoma sends.
import http.server, threading
callbacks = []
class Notified(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        headers = {k: v for k, v in self.headers.items()}
        callbacks.append(wxpay.callback(headers, body))
        self.send_response(200 if callbacks[-1] else 400)
        self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *a):
        pass
receiver = http.server.HTTPServer(('127.0.0.1', 0), Notified)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
notify_url = 'http://127.0.0.1:%d/wxpay/notify' % receiver.server_address[1]

kw = dict(wechatpay_type=WeChatPayType.NATIVE, mchid=m['mchid'], private_key=m['private_key'],
          cert_serial_no=m['serial_no'], apiv3_key=m['apiv3_key'], appid=m['appid'],
          notify_url=notify_url)
if mode == 'public_key':
    kw.update(public_key=m['platform_public_key'], public_key_id=m['platform_public_key_id'])
else:
    # Certificate mode without a network at construction: the SDK's own cert_dir of SERIAL.pem files.
    cert_dir = os.path.join(work, 'certs')
    os.makedirs(cert_dir, exist_ok=True)
    with open(os.path.join(cert_dir, m['platform_serial_no'] + '.pem'), 'w') as f:
        f.write(m['platform_certificate'])
    kw.update(cert_dir=cert_dir)
wxpay = WeChatPay(**kw)
wxpay._core._gate_way = base

if mode == 'certificate':
    # The SDK's own download of /v3/certificates, decrypted with the APIv3 key.
    wxpay._core._update_certificates()
    serials = [format(c.serial_number, 'X') for c in wxpay._core._certificates]
    assert m['platform_serial_no'] in serials, serials

no = 'SDK%d' % int(time.time() * 1000)
code, text = wxpay.pay(description='一杯咖啡', out_trade_no=no, amount={'total': 100})
assert code == 200, (code, text)
code_url = json.loads(text)['code_url']
assert code_url.startswith('weixin://wxpay/bizpayurl?pr='), code_url
code, text = wxpay.pay(description='一杯咖啡', out_trade_no=no, amount={'total': 100})
assert code == 200 and json.loads(text)['code_url'] == code_url, (code, text)
code, text = wxpay.pay(description='一杯咖啡', out_trade_no=no, amount={'total': 101})
assert code == 403 and json.loads(text)['code'] == 'OUT_TRADE_NO_USED', (code, text)
code, text = wxpay.query(out_trade_no=no)
assert code == 200 and json.loads(text)['trade_state'] == 'NOTPAY', (code, text)
subprocess.run([saoma, 'pay', '--data-dir', data_dir, '--phone', phone, code_url], check=True)
deadline = time.time() + 20
while not callbacks and time.time() < deadline:
    time.sleep(0.1)
assert callbacks and callbacks[0], 'no verified callback: %r' % callbacks
cb = callbacks[0]
assert cb['event_type'] == 'TRANSACTION.SUCCESS', cb
assert cb['resource']['out_trade_no'] == no and cb['resource']['trade_state'] == 'SUCCESS', cb
code, text = wxpay.query(out_trade_no=no)
paid = json.loads(text)
assert code == 200 and paid['trade_state'] == 'SUCCESS' and paid['amount']['payer_total'] == 100, (code, text)
code, text = wxpay.query(transaction_id=paid['transaction_id'])
assert code == 200 and json.loads(text)['out_trade_no'] == no, (code, text)
code, text = wxpay.close(out_trade_no=no)
assert code == 400 and json.loads(text)['code'] == 'ORDERPAID', (code, text)
# A second order: closed, then CLOSED on query.
no2 = no + 'B'
code, text = wxpay.pay(description='第二杯', out_trade_no=no2, amount={'total': 200})
assert code == 200, (code, text)
code, text = wxpay.close(out_trade_no=no2)
assert code == 204, (code, text)
code, text = wxpay.query(out_trade_no=no2)
assert code == 200 and json.loads(text)['trade_state'] == 'CLOSED', (code, text)
code, text = wxpay.query(transaction_id='4200000000000000000000000000')
assert code == 404 and json.loads(text)['code'] == 'ORDER_NOT_EXIST', (code, text)

# Refunds of the paid order: two partial ones, the callback verified and decrypted by the SDK.
code, text = wxpay.refund(out_refund_no=no + 'R1', amount={'refund': 30, 'total': 100, 'currency': 'CNY'}, out_trade_no=no, reason='少了一块糖')
r1 = json.loads(text)
assert code == 200 and r1['status'] == 'SUCCESS' and r1['amount']['refund'] == 30, (code, text)
code, text = wxpay.query_refund(out_refund_no=no + 'R1')
assert code == 200 and json.loads(text)['refund_id'] == r1['refund_id'], (code, text)
code, text = wxpay.refund(out_refund_no=no + 'R2', amount={'refund': 70, 'total': 100, 'currency': 'CNY'}, transaction_id=paid['transaction_id'])
assert code == 200 and json.loads(text)['status'] == 'SUCCESS', (code, text)
code, text = wxpay.refund(out_refund_no=no + 'R3', amount={'refund': 1, 'total': 100, 'currency': 'CNY'}, out_trade_no=no)
assert code == 400 and json.loads(text)['code'] == 'INVALID_REQUEST', (code, text)
code, text = wxpay.query(out_trade_no=no)
assert code == 200 and json.loads(text)['trade_state'] == 'REFUND', (code, text)
def callback_of(event, key, value):
    deadline = time.time() + 20
    while time.time() < deadline:
        for cb in callbacks:
            if cb and cb['event_type'] == event and cb['resource'].get(key) == value:
                return cb
        time.sleep(0.1)
    raise AssertionError('no verified %s callback for %s: %r' % (event, value, callbacks))
cb = callback_of('REFUND.SUCCESS', 'out_refund_no', no + 'R1')
assert cb['resource']['refund_status'] == 'SUCCESS' and cb['resource']['amount']['refund'] == 30, cb
callback_of('REFUND.SUCCESS', 'out_refund_no', no + 'R2')

# Payment codes (付款码), shown by the user (`saoma paycode`) and charged by the cashier.
def paycode():
    return subprocess.run([saoma, 'paycode', '--data-dir', data_dir, '--phone', phone], check=True, capture_output=True, text=True).stdout.strip()
store = {'store_info': {'out_id': 'till-1', 'name': '一号收银台'}}
code, text = wxpay.pay(description='早餐', out_trade_no=no + 'C1', amount={'total': 800, 'currency': 'CNY'}, payer={'auth_code': paycode()}, scene_info=store, pay_type=WeChatPayType.CODEPAY)
assert code == 200 and json.loads(text)['trade_state'] == 'SUCCESS' and json.loads(text)['trade_type'] == 'MICROPAY', (code, text)
code, text = wxpay.codepay_reverse(out_trade_no=no + 'C1')
assert code == 200 and json.loads(text)['out_trade_no'] == no + 'C1', (code, text)
code, text = wxpay.query(out_trade_no=no + 'C1')
assert code == 200 and json.loads(text)['trade_state'] == 'REVOKED', (code, text)
code, text = wxpay.codepay_reverse(out_trade_no=no + 'C1')
assert code == 400 and json.loads(text)['code'] == 'INVALID_REQUEST', (code, text)
# Above the password-free limit: USERPAYING until the user confirms with the PIN (`saoma pay --pin`).
code, text = wxpay.pay(description='电视机', out_trade_no=no + 'C2', amount={'total': 150000, 'currency': 'CNY'}, payer={'auth_code': paycode()}, scene_info=store, pay_type=WeChatPayType.CODEPAY)
assert code == 202 and json.loads(text)['code'] == 'USERPAYING', (code, text)
code, text = wxpay.query(out_trade_no=no + 'C2')
waiting = json.loads(text)
assert code == 200 and waiting['trade_state'] == 'USERPAYING', (code, text)
subprocess.run([saoma, 'pay', '--data-dir', data_dir, '--phone', phone, '--pin', '123456', waiting['transaction_id']], check=True, capture_output=True)
code, text = wxpay.query(out_trade_no=no + 'C2')
assert code == 200 and json.loads(text)['trade_state'] == 'SUCCESS', (code, text)
# Bills of the day the payments were made (the sandbox clock moves on a day; the SDK's transport
# timestamps stay on the real clock): downloaded by the SDK, gunzipped, SHA-1 as published.
import gzip, hashlib
day = paid['success_time'][:10]
subprocess.run([saoma, 'clock', 'advance', '1d', '--data-dir', data_dir], check=True, capture_output=True)
for name, (code, text) in [('tradebill', wxpay.trade_bill(bill_date=day)), ('fundflowbill', wxpay.fundflow_bill(bill_date=day))]:
    assert code == 200, (name, code, text)
    bill = json.loads(text)
    code, content = wxpay.download_bill(bill['download_url'])
    assert code == 200, (name, code, content)
    csv = gzip.decompress(content)
    assert bill['hash_type'] == 'SHA1' and hashlib.sha1(csv).hexdigest() == bill['hash_value'], (name, bill)
    if name == 'tradebill':
        text = csv.decode('utf-8')
        assert ('`' + no) in text and ('`' + no + 'R1') in text, text
code, text = wxpay.trade_bill(bill_date='2999-01-01')
assert code == 400, (code, text)
print('SDK OK', mode)
