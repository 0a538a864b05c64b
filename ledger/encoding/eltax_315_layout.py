"""The 315 record's items: where each is, what it is called, where it goes, and which sources say so.

The table :mod:`ledger.encoding.eltax_315` reads a record by (its module docstring tells the sources' story):
:data:`CONFIRMED` (items 1–143), :data:`FROM_REIWA_7` (144–146 from 令和7年分), what stays :data:`PROVISIONAL`,
and the codes of the items that carry codes (:data:`BIRTH_ERAS`, :data:`CHANGES`, :data:`ORDINARY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ledger.domain import wareki

SOURCES: Final = {
    "A": "網走市「給与支払報告書 光ディスク等提出データ仕様書 レコードの作成要領」https://expydoc.com/doc/7167626/",
    "N": "国税庁 給与所得の源泉徴収票 (375) レコードの内容及び記録要領 https://dokumen.tips/documents/fffeeoeee-cci375.html",
    "K": "https://github.com/arakanema/kyuhou_csv_validator kyuhou_csv_validator.rb (eLTAX CSVレイアウト仕様書（給与支払報告書）, 2014)",
    "L": "https://github.com/chumaltd/luca-jp lib/luca_salary/jp_payreport.rb (writes the 315 record for eLTAX)",
    "I": "板橋区 特別徴収 よくある質問 https://www.city.itabashi.tokyo.jp/faq/tetsuduki/zei/choshu/1061113.html",
    "O": "普通徴収切替理由書の記載要領 (総括表) https://expydoc.com/doc/11153029/",
    "E": "鹿児島市 eLTAXエラーチェック https://www-city-kagoshima-lg-jp.cache.yimg.jp/soumu/zeimu/shiminzei/eltaxerrorcheck.html",
    "W": "suikawiki 元号コード (明治3 大正2 昭和1 平成4 令和5 among the schemes) "
         "https://wiki.suikawiki.org/n/%E6%98%8E%E5%A4%A7%E6%98%AD$25958",
    "G": "Gozal 給与支払報告書-源泉徴収票の統一CSVの出力 (columns 受給者の生年月日-年/-月/-日, 中途就・退職-年/-月/-日) "
         "http://help.gozal.co.jp/ja/articles/4621518",
    "T": "国税庁「法定資料を光ディスク及び磁気ディスクにより提出する場合の標準規格等」別紙 (33) 給与所得の源泉徴収票 375 "
         "レコードの内容及び記録要領 https://www.nta.go.jp/taxes/tetsuzuki/shinsei/hoteichosho/06.htm",
    "U": "eLTAX 給与支払報告書・源泉徴収票 統一CSVレイアウト (令和6年分, 令和7年分) https://www.eltax.lta.go.jp/support/shiyosho/ "
         "(column names as copied in github.com/oshinko/osync.io content/posts/jp-nencho-eltax.md)",
}


@dataclass(frozen=True)
class Item:
    number: int  # the layout's 項目番号 (1-based cell position)
    name: str  # the layout's 項目名
    field: str  # where it goes: "header.<f>", "line.<f>", "person.<f>", "group.<f>", a special, or "" (read past)
    kind: str  # text, yen, count, flag01, change, year, kind, digits10, digits13, digits2, code, kana
    source: str = "K L"  # keys of SOURCES that give this position

    @property
    def column(self) -> str:
        return f"項目{self.number} {self.name}"


def _items(first: int, names: str, kind: str, source: str, fields: str = "", prefix: str = "") -> tuple[Item, ...]:
    """Consecutive items from ``first``: names (and fields) separated by ``|``, each after ``prefix``."""
    targets = fields.split("|") if fields else [""] * len(names.split("|"))
    return tuple(Item(first + i, prefix + n, f, kind, source)
                 for i, (n, f) in enumerate(zip(names.split("|"), targets, strict=True)))


_RELATIVE = "カナ|氏名|区分|個人番号"
#: Every item whose position a source gives (see the module docstring and SOURCES).
CONFIRMED: Final = (
    Item(1, "法定資料の種類", "", "kind", "A N K L"),
    Item(2, "整理番号1", "header.tax_office_reference", "digits10", "A N K L"),
    Item(3, "本支店等区分番号", "header.branch_number", "text", "A N K L"),
    Item(4, "提出義務者の住所(居所)又は所在地", "header.address", "text", "A N K L"),
    Item(5, "提出義務者の氏名又は名称", "header.name", "text", "A N K L"),
    Item(6, "提出義務者の電話番号", "header.phone", "text", "A N K L"),
    Item(7, "整理番号2", "header.office_code", "digits13", "A N K L"),
    Item(8, "提出者の住所又は所在地", "", "text", "A N K L"),
    Item(9, "提出者の氏名又は名称", "", "text", "A N K L"),
    Item(10, "訂正表示", "change", "change", "A N K L I"),
    Item(11, "年分", "period", "year", "A N K L"),
    Item(12, "住所又は居所", "person.address", "text", "A N K L"),
    Item(13, "国外住所表示", "", "flag01", "A K L"),
    Item(14, "氏名", "person.name", "text"), Item(15, "役職名", "line.title", "text"), Item(16, "種別", "line.category", "text"),
    Item(17, "支払金額", "line.payment_amount", "yen"), Item(18, "未払金額", "", "yen"),
    Item(19, "給与所得控除後の給与等の金額", "line.income_after_deduction", "yen"),
    Item(20, "所得控除の額の合計額", "line.total_deductions", "yen"), Item(21, "源泉徴収税額", "line.withholding_tax", "yen"),
    Item(22, "未徴収税額", "", "yen"), Item(23, "控除対象配偶者の有無等", "", "code", "K L T"),
    Item(24, "老人控除対象配偶者", "line.spouse_elderly", "flag01"), Item(25, "配偶者(特別)控除の額", "line.spouse_deduction", "yen"),
    *_items(26, "特定 主|特定 従|老人 主|老人 上の内訳|老人 従|その他 主|その他 従", "count", "K L",
            "line.dependants_specific||line.dependants_elderly|line.dependants_elderly_cohabiting||line.dependants_other|",
            "控除対象扶養親族の数 "),
    *_items(33, "特別障害者|上の内訳|その他", "count", "K L",
            "line.disabled_special|line.disabled_special_cohabiting|line.disabled_other", "障害者の数 "),
    *_items(36, "社会保険料等の金額|上の内訳 小規模企業共済等掛金|生命保険料の控除額|地震保険料の控除額|住宅借入金等特別控除等の額|"
                "旧個人年金保険料の金額|配偶者の合計所得|旧長期損害保険料の金額", "yen", "K L",
            "line.social_insurance|line.small_enterprise_mutual_aid|line.life_insurance|line.earthquake_insurance|"
            "line.housing_loan_credit|line.pension_insurance_old|line.spouse_income|line.earthquake_old_long_term"),
    Item(44, "受給者の生年月日 元号", "birth.era", "digits1", "K L T U W"),
    *_items(45, "年|月|日", "digits2", "K L G", "birth.yy|birth.mm|birth.dd", "受給者の生年月日 "),
    Item(48, "夫あり", "", "text"),
    *_items(49, "未成年者|乙欄適用|本人が特別障害者|本人がその他の障害者|老年者", "flag01", "K L", "|line.otsu|||"),
    Item(54, "寡婦", "widow", "code"), Item(55, "寡夫", "", "flag01"),
    *_items(56, "勤労学生|死亡退職|災害者|外国人", "flag01", "K",
            "line.working_student|line.retired_by_death|line.disaster_victim|line.foreigner"),
    Item(60, "中途就・退職 区分", "midyear.kind", "code", "K T"),
    *_items(61, "年|月|日", "digits2", "K G T", "midyear.yy|midyear.mm|midyear.dd", "中途就・退職 "),
    *_items(64, "住所又は所在地|国外住所表示|氏名又は名称|給与等の金額|徴収した額|控除した社会保険料の金額|災害者に係る徴収猶予税額",
            "text", "K"),
    *_items(71, "年|月|日", "text", "K", prefix="他の支払者のもとを退職した年月日 "),
    *_items(74, "年|月|日", "text", "K", prefix="住宅借入金等特別控除等適用家屋居住年月日(1回目) "),
    Item(77, "住宅借入金等特別控除適用数", "line.housing_loan_count", "count", "K"),
    *_items(78, "住宅借入金等特別控除可能額|住宅借入金等特別控除区分(1回目)|住宅借入金等の額(1回目)", "text", "K"),
    *_items(81, "年|月|日", "text", "K", prefix="住宅借入金等特別控除等適用家屋居住年月日(2回目) "),
    *_items(84, "住宅借入金等特別控除区分(2回目)|住宅借入金等の額(2回目)", "text", "K"),
    Item(86, "摘要", "line.remarks", "text", "K"),
    *_items(87, "新生命保険料の金額|旧生命保険料の金額|介護医療保険料の金額|新個人年金保険料の金額", "yen", "K",
            "line.life_insurance_new|line.life_insurance_old|line.care_medical_insurance|line.pension_insurance_new"),
    Item(91, "16歳未満扶養親族の数", "line.dependants_under_16", "count"),
    Item(92, "国民年金保険料等の金額", "line.national_pension", "yen", "L U"),
    Item(93, "非居住者である親族の数", "line.non_resident_relatives", "count", "L U"),
    Item(94, "提出義務者の個人番号又は法人番号", "group.corporate_number", "payer_number", "L U"),
    Item(95, "支払を受ける者の個人番号", "person.personal_number", "personal_number", "L U"),
    *_items(96, _RELATIVE, "text", "L U", prefix="控除対象配偶者 "),
    *(i for k in range(4) for i in _items(100 + 4 * k, _RELATIVE, "text", "L U", prefix=f"控除対象扶養親族{k + 1} ")),
    *(i for k in range(4) for i in _items(116 + 4 * k, _RELATIVE, "text", "L U", prefix=f"16歳未満扶養親族{k + 1} ")),
    *_items(132, "5人目以降の控除対象扶養親族|5人目以降の16歳未満扶養親族", "text", "L U"),
    Item(134, "普通徴収", "collection", "flag01", "L K U"), Item(135, "青色専従者", "", "flag01", "L K U"),
    Item(136, "条約免除", "", "flag01", "L K U"), Item(137, "支払を受ける者のフリガナ", "person.kana", "kana", "L K E U"),
    Item(138, "受給者番号", "line.employee_number", "text", "L K U"),
    Item(139, "提出先市町村コード", "line.municipality_code", "text", "L K U"), Item(140, "指定番号", "", "text", "L K U"),
    Item(141, "基礎控除の額", "line.basic_deduction", "yen", "L U"),
    Item(142, "所得金額調整控除額", "line.income_adjustment", "yen", "L U"),
    Item(143, "ひとり親", "line.single_parent", "flag01", "L U"),
)
#: From 令和7年分 (特定親族特別控除, 令和7年度税制改正), the 統一CSV has three more items after 143 (U); in the
#: years before, 144 is its 作成区分 (0 国税のみ, 1 地方のみ, 2 両方 — L), which is read past.
FROM_REIWA_7: Final = (
    Item(144, "控除対象扶養親族等の数 特定親族 主", "line.dependants_specific_relative", "count", "U"),
    Item(145, "控除対象扶養親族等の数 特定親族 従", "", "count", "U"),
    Item(146, "特定親族特別控除の額", "line.specific_relative_special", "yen", "U"),
)
#: The first 年分 whose records carry :data:`FROM_REIWA_7`.
REIWA_7: Final = 2025
#: What no source confirms (positions are all sourced; these are meanings and encodings).
PROVISIONAL: Final = {
    23: "控除対象配偶者の有無等 (T: 1/2 主たる給与 with/without a 控除対象配偶者, 3/4 従たる給与): read past — the v2 "
        "line carries the spouse deduction itself (25)",
    61: "中途就・退職 年 carries no 元号 (T): read in the era that makes it the 年分's year",
    95: "the 13-cell 個人番号 with a leading zero is T's (375); whether 315 files pad it is not confirmed: both are read",
    144: "items 144–146 from 令和7年分 stand on U alone (the 統一CSV's column names)",
}
ITEMS: Final = {i.number: i for i in CONFIRMED}
LATER_ITEMS: Final = {i.number: i for i in FROM_REIWA_7}
#: Cells a record has at least: through 140 指定番号 (令和元年分 has no 141–143).
MIN_CELLS: Final = 140
#: Items about a person (sealed by the ledger, or a relative's): left out of the key material, never echoed.
PERSON_ITEMS: Final = frozenset({12, 13, 14, 44, 45, 46, 47, *range(95, 134), 137})

#: 元号 code of 44 → era (T; 9 その他 is none of them).
BIRTH_ERAS: Final = {"1": "昭和", "2": "大正", "3": "明治", "4": "平成", "5": "令和"}
REIWA_FIRST: Final = wareki.gregorian_year("令和", 1)
#: 訂正表示 (eLTAX: 0 新規, 1 追加, 2 訂正, 3 取消) → ImportLine.change.
CHANGES: Final = {"0": None, "1": "ADD", "2": "CORRECT", "3": "CANCEL"}
#: 普通徴収切替理由 符号 (in 摘要) → ledger.domain.forms.ORDINARY_REASONS.
ORDINARY: Final = {"A": "FEW_EMPLOYEES", "B": "SPECIAL_ELSEWHERE", "C": "LOW_PAY", "D": "IRREGULAR_PAY",
                   "E": "FAMILY_WORKER", "F": "LEAVING"}
