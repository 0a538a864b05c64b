"""The pages' words, in Japanese (the default) and English.

Each message is one key with both texts; a page asks ``t(key)`` in the reader's language. The
language comes from ``?lang=`` (remembered in a cookie), else the cookie, else Japanese — the
language of the people the pages are for. Procedures and error codes have their own names here,
so an error a payroll clerk sees says what to do in their language.
"""

from __future__ import annotations

from typing import Final

LANGS: Final = ("ja", "en")
DEFAULT: Final = "ja"

MESSAGES: dict[str, tuple[str, str]] = {
    "site": ("Kiroku 記録", "Kiroku"),
    "skip": ("本文へ移動", "Skip to content"),
    "switch_lang": ("English", "日本語"),
    "signed_in_as": ("ログイン中: {person}（{principal}）", "Signed in: {person} ({principal})"),
    "sign_out": ("ログアウト", "Sign out"),
    "sign_in": ("ログイン", "Sign in"),
    "sign_in_title": ("ログイン", "Sign in"),
    "sign_in_text": ("送られたログイン用リンクを開いてください。リンクは一度だけ、期限内に使えます。",
                     "Open the sign-in link you were sent. It works once, before it expires."),
    "sign_in_oidc": ("{provider} でログイン", "Sign in with {provider}"),
    "invite_title": ("ログインの確認", "Confirm sign-in"),
    "invite_text": ("{person} として {principal} にログインします。", "You are signing in to {principal} as {person}."),
    "invite_button": ("ログインする", "Sign in"),
    "invite_oidc": ("{provider} のアカウントと結び付けてログインする", "Sign in and link your {provider} account"),
    "nav_notices": ("提出通知", "Notices"),
    "nav_filings": ("提出データ", "Filings"),
    "nav_missing": ("未提出", "Missing filings"),
    "nav_home": ("ホーム", "Home"),
    "nav_access": ("閲覧記録", "Access log"),
    "nav_dispositions": ("処分通知", "Dispositions"),
    "nav_grants": ("委任", "Grants"),
    "nav_clients": ("顧問先", "Clients"),
    "nav_enrollments": ("提出先", "Enrollments"),
    "notices_title": ("提出通知", "Notices"),
    "notices_new": ("前回の表示以降の新着: {n} 件", "New since your last visit: {n}"),
    "notices_none": ("通知はありません。", "No notices."),
    "filter": ("絞り込む", "Filter"),
    "procedure": ("手続", "Procedure"),
    "period": ("対象期間", "Period"),
    "company": ("法人番号", "Company"),
    "office": ("事業所", "Office"),
    "kind": ("種別", "Kind"),
    "recorded_at": ("記録日時", "Recorded at"),
    "submission": ("提出", "Submission"),
    "seq": ("番号", "No."),
    "lines": ("明細", "Lines"),
    "all_lines": ("全件", "all"),
    "new": ("新着", "new"),
    "next_page": ("次のページ", "Next page"),
    "any": ("すべて", "any"),
    "snapshot_title": ("提出データ {submission}", "Submission {submission}"),
    "as_of": ("時点", "As of"),
    "as_of_help": ("この日時時点で効力のある版を表示します（日本時間、例: 2027-01-31T23:59）。",
                   "Shows the version in force at that time (Japan time, e.g. 2027-01-31T23:59)."),
    "show": ("表示", "Show"),
    "version": ("版", "Version"),
    "history": ("訂正の履歴", "Correction history"),
    "masked": ("（非表示）", "(masked)"),
    "masked_note": ("法令上の根拠がない項目は表示されません。", "Fields your legal basis does not cover are masked."),
    "your_lines": ("あなたの機関の対象者の明細のみを表示しています。", "Only the lines of persons your agency covers are shown."),
    "missing_title": ("未提出の一覧", "Missing filings"),
    "missing_none": ("未提出はありません。", "No missing filings."),
    "deadline": ("期限", "Deadline"),
    "reported_at": ("検出日時", "Reported at"),
    "home_title": ("提出の状況", "Filings"),
    "home_none": ("まだ提出はありません。", "Nothing filed yet."),
    "due_soon": ("期限が近い手続", "Deadlines coming up"),
    "receipt": ("受付", "Receipt"),
    "targets": ("通知先", "Notified"),
    "on_time": ("期限内", "On time"),
    "late": ("期限後", "Late"),
    "yes": ("はい", "yes"),
    "no": ("いいえ", "no"),
    "access_title": ("閲覧記録", "Access log"),
    "access_none": ("閲覧記録はありません。", "No reads recorded."),
    "viewer": ("閲覧者", "Viewer"),
    "person": ("担当者", "Person"),
    "action": ("操作", "Action"),
    "subject": ("対象", "Subject"),
    "basis": ("根拠", "Legal basis"),
    "outcome": ("結果", "Outcome"),
    "at": ("日時", "When"),
    "ALLOWED": ("許可", "allowed"),
    "DENIED": ("拒否", "denied"),
    "error_title": ("エラー", "Error"),
    "error_back": ("前のページに戻って、もう一度お試しください。", "Go back and try again."),
    "error_sign_in": ("もう一度ログインしてください。", "Please sign in again."),
    "not_found": ("見つかりません（またはあなたに閲覧の権限がありません）。", "Not found (or not yours to see)."),
    "not_for_you": ("このページはあなたの種類の利用者向けではありません。", "This page is not for your kind of user."),
    # why a session ended, by code (ledger.service.staff)
    "signed_out": ("ログインしていません。送られたリンクからログインしてください。", "You are not signed in: use the link you were sent."),
    "session_idle": ("操作がなかったためログアウトしました。もう一度ログインしてください。",
                     "You were signed out after a while without activity. Please sign in again."),
    "session_expired": ("ログインの有効期限が切れました。もう一度ログインしてください。",
                        "Your session has expired. Please sign in again."),
    "account_disabled": ("このアカウントは無効にされました。管理者にお問い合わせください。",
                         "This account was disabled. Ask your administrator."),
    "invite_used": ("このリンクは使用済みです。新しいリンクを依頼してください。", "This link was used already: ask for a new one."),
    "invite_expired": ("このリンクは期限切れです。新しいリンクを依頼してください。", "This link has expired: ask for a new one."),
    "invite_unknown": ("このリンクは無効です。送られたリンクをそのまま開いてください。",
                       "This link is not valid: open the link exactly as you received it."),
    "csrf_failed": ("このフォームは期限切れか、このサイトのものではありません。ページを開き直してから送信してください。",
                    "This form has expired or did not come from this site: open the page again and resubmit."),
    "identity_taken": ("このログインは別のアカウントに結び付けられています。", "This sign-in is linked to another account."),
    "no_account": ("このログインに結び付いたアカウントがありません。まず送られたリンクからログインしてください。",
                   "No account is linked to this sign-in: first open the sign-in link you were sent."),
    "invalid": ("入力に誤りがあります: {field}", "Please check: {field}"),
    "signed_in": ("ログインしました。", "You are signed in."),
    "agency": ("機関", "Agency"),
    "issued_at": ("発出日時", "Issued at"),
    "arrived_at": ("到達日時", "Arrived at"),
    "contents": ("内容", "Contents"),
    "title_col": ("件名", "Title"),
    "open": ("開く", "Open"),
    "dispositions_title": ("処分通知", "Dispositions"),
    "dispositions_none": ("処分通知はありません。", "No dispositions."),
    "dispositions_intro": ("開いた時点で到達（到達日時）が記録されます。", "Opening one records its arrival (到達)."),
    "disposition_title": ("処分通知 {id}", "Disposition {id}"),
    "enrollments_title": ("提出先の登録", "Enrollments"),
    "enrollments_none": ("登録はありません。", "No enrollments."),
    "decision": ("判断", "Decision"),
    "assigned": ("付番", "Assigned id"),
    "requested_at": ("申請日時", "Requested at"),
    "grants_title": ("委任", "Grants"),
    "grantee": ("受任者", "Grantee"),
    "grantee_help": ("例: firm:tanaka-zeirishi（税理士・社労士事務所）、vendor:kyuyo-cloud（給与計算サービス）",
                     "e.g. firm:tanaka-zeirishi (a tax or labour firm), vendor:kyuyo-cloud (a payroll service)"),
    "actions": ("権限", "Rights"),
    "action_submit": ("提出", "submit"),
    "action_read": ("閲覧", "read"),
    "action_receive_notices": ("処分通知の受領", "receive dispositions"),
    "personal_numbers": ("個人番号", "Personal numbers"),
    "personal_numbers_allow": ("個人番号の閲覧を許可する（番号法上の委託がある場合のみ）",
                               "Allow personal numbers (only under a My Number Act entrustment)"),
    "expires": ("期限", "Expires"),
    "state": ("状態", "State"),
    "active": ("有効", "active"),
    "revoked": ("取消済み", "revoked"),
    "revoke": ("取り消す", "Revoke"),
    "new_grant": ("新しい委任", "New grant"),
    "issue_grant": ("委任する", "Grant"),
    "grant_issued": ("{grantee} への委任を登録しました。", "Granted to {grantee}."),
    "grant_revoked": ("委任を取り消しました（直ちに有効）。", "The grant is revoked, effective at once."),
    "clients_title": ("顧問先", "Clients"),
    "clients_none": ("委任している顧問先はありません。", "No client has granted you anything."),
    "inbox_title": ("処分通知（全顧問先）", "Dispositions (all clients)"),
    "receipt_title": ("受付 {id}", "Receipt {id}"),
    "position": ("ログ上の位置", "Log position"),
    "download_receipt": ("検証用の受付ファイルをダウンロード", "Download the receipt file"),
    "download_help": ("kiroku verify --receipt で誰でも検証できます。", "anyone can check it with kiroku verify --receipt."),
    "verify_title": ("ブラウザーで検証", "Verify in the browser"),
    "verify_text": ("公開鍵でチェックポイントの署名を確かめ、この記録がログに含まれることを証明で確かめます。通信は行いません。",
                    "Checks the checkpoint's signature with the published key, and the proof that this entry is in the log. "
                    "Nothing is sent."),
    "verify_this": ("この受付を検証する", "Verify this receipt"),
    "verify_file": ("受付ファイルを選んで検証する", "Or choose a receipt file to verify"),
    "proof_pending": ("ログへの組み込みを待っています。しばらくしてから開き直してください。",
                      "The entry is not yet in a signed checkpoint; open this page again in a moment."),
    "published_key": ("公開鍵", "Published key"),
    "continue": ("続ける", "Continue"),
    "oidc_failed": ("ログインを完了できませんでした（時間切れか、別のブラウザーからの応答です）。もう一度お試しください。",
                    "The sign-in could not be completed (it took too long, or the answer came to another browser). Try again."),
}

#: 手続 names (ledger.domain.procedures codes) for the pages.
PROCEDURES: Final[dict[str, tuple[str, str]]] = {
    "PAYROLL_REPORT": ("給与支払報告書", "Salary payment report"),
    "WITHHOLDING_SLIP": ("源泉徴収票", "Withholding slip"),
    "STANDARD_REMUNERATION": ("算定基礎届", "Standard remuneration report"),
    "BONUS_PAYMENT": ("賞与支払届", "Bonus payment report"),
    "BONUS_NON_PAYMENT": ("賞与不支給報告書", "Bonus non-payment report"),
    "WAGE_LEDGER": ("賃金台帳", "Wage ledger"),
    "SPECIAL_COLLECTION_NOTICE": ("特別徴収税額決定通知", "Special collection notice"),
    "STANDARD_REMUNERATION_DECISION": ("標準報酬決定通知", "Standard remuneration decision"),
}


def register(messages: dict[str, tuple[str, str]]) -> None:
    """Add a page module's own messages (each key once across the site)."""
    taken = MESSAGES.keys() & messages.keys()
    if taken:
        raise ValueError(f"messages defined twice: {sorted(taken)}")
    MESSAGES.update(messages)


def lang_of(asked: str | None, cookie: str | None) -> str:
    for choice in (asked, cookie):
        if choice in LANGS:
            return choice  # type: ignore[return-value]
    return DEFAULT


def translate(lang: str, key: str, **values: object) -> str:
    """The message ``key`` in ``lang`` (the key itself if there is none — never an error page of its own)."""
    pair = MESSAGES.get(key)
    text = key if pair is None else pair[0 if lang == "ja" else 1]
    return text.format(**values) if values else text


def procedure_name(lang: str, code: str) -> str:
    pair = PROCEDURES.get(code)
    return code if pair is None else pair[0 if lang == "ja" else 1]
