"""The business scanner page (``/scan``): a phone reads a batch's QR code (or the code is typed),
and the scan is kept on the device until ``/api/v1/scans`` has recorded it.

The page is a shell; ``static/js/scanner.js`` queues each scan in IndexedDB under a
``client_event_id`` made when it is taken and posts the queue whenever the network allows, so a
scan taken in a cold store without signal is sent later and, the API being idempotent by that
id, never recorded twice.  Every sentence the script shows is rendered here with ``bi`` so the
wording stays in one language pipeline with the other pages.
"""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from api import context
from api.account_routes import Text
from api.auth import current_principal
from ledger.domain.scans import ACTIONS, FOOD_ROLES
from ledger.services import users

blueprint = Blueprint("scanner", __name__)

ACTION_NAMES = {
    "ship": Text("发货", "Ship"),
    "receive": Text("收货", "Receive"),
    "store": Text("入库", "Store"),
    "sell": Text("销售", "Sell"),
    "dispose": Text("销毁", "Dispose"),
}
# Built from the domain's list so that a new action fails here at import, not silently on the page.
ACTION_CHOICES = tuple((action, ACTION_NAMES[action]) for action in ACTIONS)
DEFAULT_ACTION = "receive"
UNITS = ("箱", "件", "袋", "kg", "吨")

# What the script says, keyed by the name it asks for; ``{n}`` and ``{seq}`` are filled in there.
SCRIPT_TEXTS = {
    "state-queued": Text("待发送", "Queued"),
    "state-sending": Text("发送中", "Sending"),
    "state-sent": Text("已记录", "Recorded"),
    "state-refused": Text("被拒绝", "Refused"),
    "seq": Text("账本序号 {seq}", "Ledger seq {seq}"),
    "replayed": Text("此前已记录，未重复记账", "Recorded earlier; not recorded twice"),
    "retry-network": Text(
        "上次发送未成功（网络不通），将自动重试。", "The last try failed (no network); it will be retried."
    ),
    "retry-answer": Text(
        "上次发送未成功（应答不是来自本系统），将自动重试。",
        "The last try failed (the answer did not come from this system); it will be retried.",
    ),
    "retry-status": Text(
        "上次发送未成功（服务器返回 {status}），将自动重试。",
        "The last try failed (the server answered {status}); it will be retried.",
    ),
    "send-again": Text("重新发送", "Send again"),
    "remove": Text("移除", "Remove"),
    "saved": Text("已保存到本机，等待发送。", "Saved on this device, waiting to be sent."),
    "sent-announce": Text("已发送 {n} 条到账本。", "{n} sent to the ledger."),
    "refused-announce": Text("有记录被拒绝，原因见列表。", "A scan was refused; the reason is in the list."),
    "summary": Text("待发送 {queued} 条，被拒绝 {refused} 条。", "{queued} queued, {refused} refused."),
    "camera-start": Text("用摄像头扫码", "Scan with the camera"),
    "camera-stop": Text("关闭摄像头", "Stop the camera"),
    "camera-looking": Text("请将批次二维码对准取景框。", "Hold the batch's QR code in front of the camera."),
    "camera-read": Text("已读取二维码。", "QR code read."),
    "camera-denied": Text(
        "无法使用摄像头（未获许可）。请在浏览器设置中允许，或手动输入编码。",
        "The camera is not allowed. Allow it in the browser's settings, or type the code.",
    ),
    "camera-unavailable": Text(
        "此浏览器或连接无法使用摄像头（需要 HTTPS）。请手动输入编码。",
        "This browser or connection cannot use the camera (it needs HTTPS). Type the code instead.",
    ),
    "quantity-positive": Text("数量必须大于 0。", "The quantity must be more than 0."),
    "storage-failed": Text(
        "此浏览器无法在本机保存记录（可能处于无痕模式）：离线时的扫码在刷新页面后会丢失。",
        "This browser cannot keep scans on the device (private mode?): offline scans are lost if the page reloads.",
    ),
    **{f"action-{action}": name for action, name in ACTION_CHOICES},
}


def _account() -> users.AccountView | None:
    """The logged-in person, if they work for a business that scans goods."""
    principal = current_principal()
    if principal is None or principal.user_id is None or not principal.has_any(FOOD_ROLES):
        return None
    with context.reading() as db:
        return users.describe(db, principal.user_id)


@blueprint.get("/scan")
def scanner() -> BaseResponse:
    account = _account()
    if account is None:
        return redirect(url_for("account.login_form", next=request.path))
    page = render_template(
        "scanner.html",
        account=account,
        actions=ACTION_CHOICES,
        default_action=DEFAULT_ACTION,
        units=UNITS,
        texts=SCRIPT_TEXTS,
    )
    response = make_response(page)
    # The page carries the session's CSRF token: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response
