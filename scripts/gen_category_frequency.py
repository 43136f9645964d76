#!/usr/bin/env python3
"""Writes data/category-frequency.tsv: a reasoned *estimate* of how often each
fine class is reported per year in one district, used by the category search
as a prior when scores tie.

It is not measured. Until a server's data is available
(`gridpatrol taxonomy frequency --data DIR` rebuilds the file from the real
case index), the estimate follows the shape of urban-management practice:
the CJ/T 214 city-management module (02) carries most grid reports, and
within it small ads, street order (parking, vendors), exposed garbage,
illegal structures, manhole covers and street lamps dominate; the other
modules are reported by grid inspectors far less often. Within a subclass
the first fine class (the most common state: 破损, 不亮, …) counts a bit
more. Run from the repository root: python3 scripts/gen_category_frequency.py
"""

import csv
import sys

# Cases per fine class per year, by module (two-digit code).
MODULE = {
    "01": 12, "02": 0, "03": 10, "04": 12, "05": 6, "06": 4,
    "07": 8, "08": 3, "09": 2, "10": 1, "11": 2,
}
# City management (02) by major class (four-digit code).
MAJOR = {
    "0201": 60, "0202": 45, "0203": 55, "0204": 30, "0205": 15,
    "0206": 10, "0207": 150, "0208": 160, "0209": 80, "0210": 25,
    "0211": 170,
}
# Subclasses that practice reports far more than their major class average.
SUB = {
    "020801": 4.0,  # 非法小广告
    "021102": 4.0,  # 机动车乱停放
    "021101": 3.0,  # 无照经营游商
    "021104": 2.5,  # 店外经营
    "020702": 2.5,  # 暴露垃圾
    "020701": 2.0,  # 私搭乱建
    "020703": 2.0,  # 积存垃圾渣土
    "021103": 2.0,  # 非机动车乱停放
    "020121": 2.0,  # 路灯
    "020101": 1.5, "020102": 1.8, "020103": 1.8,  # 上水/污水/雨水井盖
    "020104": 1.5,  # 雨水箅子
    "020304": 1.5,  # 垃圾箱
    "020902": 1.5,  # 施工扬尘
    "020906": 1.5,  # 渣土运输
}


def main():
    rows = []
    with open("data/taxonomy.tsv", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            code = r["code"]
            if len(code) != 8:
                continue
            base = MAJOR.get(code[:4]) if code[:2] == "02" else MODULE[code[:2]]
            n = base * SUB.get(code[:6], 1.0)
            if code.endswith("01"):
                n *= 1.5
            rows.append((code, max(1, round(n))))
    out = sys.stdout if len(sys.argv) > 1 and sys.argv[1] == "-" else open(
        "data/category-frequency.tsv", "w", encoding="utf-8")
    out.write("code\tcount\n")
    for code, n in rows:
        out.write(f"{code}\t{n}\n")


if __name__ == "__main__":
    main()
