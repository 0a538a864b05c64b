"""The agency pages' words, in Japanese and English (registered with :mod:`viewers.web.i18n` at import)."""

from __future__ import annotations

from viewers.web import i18n

MESSAGES: dict[str, tuple[str, str]] = {
    "ag_nav_progress": ("提出の進捗", "Filing progress"),
    "ag_nav_issue": ("処分通知の発出", "Issue dispositions"),
    # search of filings
    "ag_filings_title": ("提出データの検索", "Search filings"),
    "ag_filings_intro": ("指定した時点で効力のある版を、提出ごとに1行で表示します。"
                         "条件を入れずに検索すると、閲覧できるすべての提出を表示します。",
                         "One row per filing, the version in force at the time given. Searching with no condition lists every "
                         "filing you may see."),
    "ag_period_from": ("対象期間（から）", "Period from"),
    "ag_period_to": ("対象期間（まで）", "Period to"),
    "ag_period_help": ("年（例: 2026）または年月（例: 2026-04）。", "A year (e.g. 2026) or a month (e.g. 2026-04)."),
    "ag_company_help": ("13桁の法人番号。", "The 13-digit corporate number."),
    "ag_search": ("検索", "Search"),
    "ag_found": ("{n} 件（{first}〜{last} 件目を表示）", "{n} filings (showing {first} to {last})"),
    "ag_found_none": ("条件に合う提出はありません。", "No filing matches."),
    "ag_refine": ("該当が {n} 件以上あります。上位 {n} 件のみ対象です。法人番号・手続・期間で絞り込んでください。",
                  "{n} or more filings match; only the first {n} are listed. Narrow the search by company, procedure or period."),
    "ag_search_error": ("検索条件に誤りがあります: {field} — {expected}", "Please check the search: {field} — {expected}"),
    "ag_previous_page": ("前のページ", "Previous page"),
    "ag_open": ("開く", "Open"),
    # a person's line through the corrections
    "ag_person_title": ("受給者 {person} の変更履歴", "Changes to person {person}"),
    "ag_person_intro": ("この提出の訂正の各版で、この受給者の明細がどう変わったかを表示します（あなたの機関が閲覧できる範囲のみ）。",
                        "How this person's line changed in each version of the filing (as far as your agency may see it)."),
    "ag_line_action": ("明細の扱い", "Line"),
    "ag_action_ORIGINAL": ("この版では変更なし（提出時のまま、または前の版のまま）",
                           "not changed by this version (as filed, or carried over)"),
    "ag_action_ADD": ("追加", "added"),
    "ag_action_CORRECT": ("訂正", "corrected"),
    "ag_action_CANCEL": ("取消", "cancelled"),
    "ag_action_none": ("この版にはありません（または閲覧の対象外）", "not on this version (or not yours to see)"),
    "ag_changes": ("前の版からの変更", "Changed from the previous version"),
    "ag_no_changes": ("変更なし", "no change"),
    "ag_first_version": ("最初の版", "the first version"),
    "ag_field": ("項目", "Field"),
    "ag_old": ("変更前", "Before"),
    "ag_new": ("変更後", "After"),
    "ag_back_to_filing": ("提出データに戻る", "Back to the filing"),
    "ag_person_link": ("{person} の変更履歴", "changes to {person}"),
    # exports
    "ag_exports": ("ファイルに出力", "Download"),
    "ag_export_xlsx": ("Excel（xlsx）", "Excel (xlsx)"),
    "ag_export_csv": ("CSV（UTF-8）", "CSV (UTF-8)"),
    "ag_export_cp932": ("CSV（Shift_JIS）", "CSV (Shift_JIS)"),
    "ag_export_note": ("出力は閲覧として会社の閲覧記録に残ります。", "A download is a read, recorded in the company's access log."),
    # dispositions
    "ag_issue_title": ("処分通知の発出（特別徴収税額決定通知）", "Issue dispositions (special collection notices)"),
    "ag_issue_intro": ("特別徴収税額決定通知を、1社ずつ、またはファイルで多数の会社にまとめて発出します。"
                       "発出した通知は会社（と受領の委任を受けた事務所）に届きます。",
                       "Issue special collection notices to one company, or to many companies from a file. Each notice reaches "
                       "the company (and any firm it granted to receive them)."),
    "ag_issue_one": ("1社に発出する", "Issue to one company"),
    "ag_issue_bulk": ("ファイルから発出する（複数の会社）", "Issue from a file (many companies)"),
    "ag_year": ("年度", "Fiscal year"),
    "ag_year_help": ("特別徴収を行う年度（例: 2027 は 2027年6月〜2028年5月）。",
                     "The year of collection (e.g. 2027: June 2027 to May 2028)."),
    "ag_lines": ("明細（CSV）", "Lines (CSV)"),
    "ag_lines_help": ("1行に1人: 受給者番号,氏名,年税額,6月分,7月以降の月額（見出し行は省略できます）。最大 {rows} 行。",
                      "One person a row: employee_number,name,annual_tax,june_amount,monthly_amount (the header row may be "
                      "left out). At most {rows} rows."),
    "ag_file": ("ファイル（CSV、UTF-8 または Shift_JIS）", "File (CSV, UTF-8 or Shift_JIS)"),
    "ag_file_help": ("最大 {mb} MB、{rows} 行、{companies} 社。1行目は見出し行です。",
                     "At most {mb} MB, {rows} rows, {companies} companies. "
                     "The first row is the header."),
    "ag_issue_button": ("発出する", "Issue"),
    "ag_columns_title": ("ファイルの列", "The file's columns"),
    "ag_columns_intro": ("見出しは日本語・英語のどちらでも、列の順序は自由です。同じ法人番号の行が1通の通知になります。",
                         "Headers in Japanese or English, in any order. The rows of one corporate number make one notice."),
    "ag_column": ("列", "Column"),
    "ag_column_en": ("英語の見出し", "English header"),
    "ag_column_meaning": ("内容", "What it holds"),
    "ag_col_corporate_number": ("会社の13桁の法人番号", "The company's 13-digit corporate number"),
    "ag_col_employee_number": ("会社が付けた受給者番号（給与支払報告書のもの）", "The company's employee number (as on its salary report)"),
    "ag_col_name": ("受給者の氏名", "The person's name"),
    "ag_col_annual_tax": ("特別徴収税額（年額、円）", "The year's tax to collect, in yen"),
    "ag_col_june_amount": ("6月分の税額（円）。年税額から7月以降の月額の11か月分を引いた額（100円未満の端数を含む）",
                           "June's amount in yen: the year's tax less eleven monthly amounts (holds the part under 100 yen)"),
    "ag_col_monthly_amount": ("7月から翌年5月までの各月の税額（円、100円単位）",
                              "Each month's amount from July to May, in yen, in 100-yen units"),
    "ag_rules": ("地方税法第321条の5第1項により、7月以降の月額は100円単位、6月分は年税額 − 月額 × 11 です。",
                 "By 地方税法 art. 321-5(1), the monthly amount from July is in 100-yen units and June's is the year's tax less "
                 "eleven monthly amounts."),
    "ag_example": ("例（UTF-8 または Shift_JIS の CSV）", "An example (CSV in UTF-8 or Shift_JIS)"),
    "ag_result_title": ("処分通知の発出結果", "Dispositions issued"),
    "ag_progress": ("進捗", "Progress"),
    "ag_step_issued": ("{company}: {n} 人分を発出しました（{id}）", "{company}: issued for {n} persons ({id})"),
    "ag_step_refused": ("{company}: 誤りがあるため発出しませんでした", "{company}: not issued — see the errors"),
    "ag_step_stopped": ("予期しないエラーのため、ここで中断しました。発出済みの通知は下の表のとおりです。",
                        "An unexpected error stopped the issuing here. What was issued is listed below."),
    "ag_issued": ("発出した通知", "Issued"),
    "ag_issued_count": ("{n} 社に発出しました。", "Issued to {n} companies."),
    "ag_issued_none": ("発出した通知はありません。", "Nothing was issued."),
    "ag_errors": ("誤り", "Errors"),
    "ag_errors_count": ("{n} 件の誤りがあります。誤りのある会社の通知は発出していません。",
                        "{n} errors. The notices of companies with errors were not issued."),
    "ag_errors_more": ("ほか {n} 件", "and {n} more"),
    "ag_row": ("行", "Row"),
    "ag_problem": ("内容", "Problem"),
    "ag_persons": ("人数", "Persons"),
    "ag_disposition": ("通知", "Notice"),
    "ag_again": ("別の通知を発出する", "Issue more"),
    # the errors, by code (never the value: a row holds a name)
    "ag_err_required": ("入力がありません", "missing"),
    "ag_err_too_long": ("長すぎます", "too long"),
    "ag_err_invalid_amount": ("金額は0以上の整数（円）で入れてください", "an amount is a whole number of yen"),
    "ag_err_negative_amount": ("金額は0以上で入れてください", "an amount is not negative"),
    "ag_err_amount_too_large": ("金額が大きすぎます", "the amount is too large"),
    "ag_err_not_in_100_yen": ("100円単位で入れてください（端数は6月分）", "in 100-yen units (the remainder goes to June)"),
    "ag_err_inconsistent_amounts": ("金額が合いません", "the amounts do not add up"),
    "ag_err_check_digit": ("法人番号のチェックデジットが合いません", "the corporate number's check digit is wrong"),
    "ag_err_invalid_corporate_number": ("法人番号は13桁の数字です", "a corporate number is 13 digits"),
    "ag_err_not_found": ("この会社からあなたの機関への提出・登録がありません", "this company filed nothing to you and has no accepted "
                         "enrollment with you"),
    "ag_err_duplicate_line": ("同じ受給者番号が2回あります", "the same employee number twice"),
    "ag_err_columns": ("列の数が見出しと合いません", "the row's cells do not match the header"),
    "ag_err_header": ("見出し行に必要な列がありません（列の表を参照）", "the header lacks a column (see the table of columns)"),
    "ag_err_unknown_column": ("見出しに知らない列があります", "the header has a column not on the list"),
    "ag_err_too_many_rows": ("行が多すぎます", "too many rows"),
    "ag_err_too_many_companies": ("会社が多すぎます", "too many companies"),
    "ag_err_file_too_large": ("ファイルが大きすぎます", "the file is too large"),
    "ag_err_empty": ("明細がありません", "there are no rows"),
    "ag_err_encoding": ("文字コードを読めません（UTF-8 か Shift_JIS で保存してください）",
                        "the file cannot be read: save it as UTF-8 or Shift_JIS"),
    "ag_err_csv": ("CSV として読めません", "not readable as CSV"),
    "ag_err_invalid_period": ("年度は4桁の年です（例: 2027）", "the fiscal year is four digits (e.g. 2027)"),
    "ag_err_forbidden": ("この通知を発出する権限がありません", "you may not issue this notice"),
    "ag_err_other": ("値が正しくありません", "the value is not right"),
    "ag_expected": ("（正しくは: {expected}）", "(expected: {expected})"),
    # progress
    "ag_progress_title": ("提出の進捗: {procedure} {period}", "Filing progress: {procedure} {period}"),
    "ag_progress_intro": ("あなたの機関に提出が見込まれる会社の、日ごとの提出・期限後提出・未提出の数です。",
                          "For the companies expected to file to your agency: how many filed, filed late, and are missing, day by day."),
    "ag_progress_how": ("数え方", "How it is counted"),
    "ag_progress_how_expected": ("見込まれる会社: 期限までにあなたの機関が提出先の登録を受け付けた会社（個別に、または一括受付の方針で"
                                 "前に提出のあった会社）と、この手続・期間で提出した会社、未提出として検出された会社。",
                                 "Expected companies: those whose enrollment your agency accepted before the deadline (one by one, or "
                                 "by standing policy for companies that filed to it before), those that filed this procedure and "
                                 "period to it, and those reported to it as missing."),
    "ag_progress_how_filed": ("提出: 会社ごとに最初の版を記録した日（日本時間）。"
                              "事業所ごとの提出は、最初のものを数えます。訂正は数えません。",
                              "Filed: the day (Japan time) the company's first version was recorded; for filings per office, the "
                              "first of them. Corrections are not counted."),
    "ag_progress_how_late": ("期限後: 最初の版の記録が手続の期限（{deadline}）より後のもの。", "Late: the first version was recorded after "
                             "the procedure's deadline ({deadline})."),
    "ag_progress_how_missing": ("未提出: その日の終わりにまだ何も提出していない会社の数。"
                                "期限前は、後で期限後に提出した会社と未提出として検出された会社だけが分かります"
                                "（登録済みでまだ提出していない会社の一覧は、期限を過ぎて検出されるまで見えません）。",
                                "Not filed: the companies with nothing filed at the end of that day. Before the deadline only those that "
                                "later filed late or were reported missing are known (enrolled companies that have not filed yet are "
                                "not visible until they are reported missing after the deadline)."),
    "ag_progress_limit": ("提出が {n} 件以上あるため、最初の {n} 件だけを数えています。",
                          "{n} or more filings: only the first {n} are counted."),
    "ag_day": ("日付", "Day"),
    "ag_filed_on_time": ("期限内に提出", "Filed on time"),
    "ag_filed_late": ("期限後に提出", "Filed late"),
    "ag_filed_total": ("提出済み（累計）", "Filed (so far)"),
    "ag_not_filed": ("未提出（その日の終わり）", "Not filed (end of day)"),
    "ag_before": ("{day} より前", "before {day}"),
    "ag_after": ("{day} より後", "after {day}"),
    "ag_expected_companies": ("見込まれる会社", "Expected companies"),
    "ag_missing_now": ("未提出（現在）", "Missing now"),
    "ag_chart_title": ("{procedure} {period} の日ごとの提出", "Filings of {procedure} {period} per day"),
    "ag_chart_desc": ("{first} から {last} まで。期限内の提出 {on_time} 社、期限後 {late} 社、"
                      "未提出 {missing} 社（{n} 社中）。期限は {deadline}。"
                      "棒は日ごとの提出（下が期限内、上の斜線が期限後）、折れ線は未提出の数。数値は下の表にあります。",
                      "From {first} to {last}: {on_time} of {n} companies filed on time, {late} late, {missing} not filed. "
                      "Deadline {deadline}. Bars: filings per day (on time below, late hatched above); line: companies not "
                      "filed. The numbers are in the table below."),
    "ag_legend": ("凡例", "Legend"),
    "ag_table_title": ("日ごとの数", "Numbers per day"),
    "ag_no_deadline": ("この手続には期限がありません。", "This procedure has no deadline."),
    "ag_progress_choose": ("表示する", "Show"),
}
i18n.register(MESSAGES)
