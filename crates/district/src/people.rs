//! Realistic, unique Chinese names for the demo inspectors.

use std::collections::BTreeSet;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Common surnames with rough per-mille weights (the big five dominate, as in
/// northern China's population registers).
const SURNAMES: &[(&str, u32)] = &[
    ("王", 72),
    ("李", 70),
    ("张", 68),
    ("刘", 55),
    ("陈", 30),
    ("杨", 24),
    ("赵", 22),
    ("黄", 18),
    ("周", 16),
    ("吴", 15),
    ("孙", 14),
    ("徐", 12),
    ("马", 12),
    ("高", 12),
    ("郭", 11),
    ("朱", 10),
    ("胡", 10),
    ("何", 8),
    ("郑", 7),
    ("梁", 7),
    ("宋", 7),
    ("韩", 7),
    ("于", 7),
    ("林", 6),
    ("罗", 6),
    ("冯", 6),
    ("曹", 6),
    ("田", 6),
    ("董", 6),
    ("谢", 5),
    ("唐", 5),
    ("许", 5),
    ("杜", 5),
    ("魏", 5),
    ("任", 5),
    ("崔", 5),
    ("邓", 4),
    ("彭", 4),
    ("肖", 4),
    ("袁", 4),
    ("程", 4),
    ("苏", 4),
    ("吕", 4),
    ("丁", 4),
    ("姜", 4),
    ("贾", 4),
    ("白", 4),
    ("孟", 4),
    ("闫", 4),
    ("曾", 3),
    ("潘", 3),
    ("蒋", 3),
    ("蔡", 3),
    ("余", 3),
    ("沈", 3),
    ("姚", 3),
    ("卢", 3),
    ("范", 3),
    ("金", 3),
    ("石", 3),
    ("付", 3),
    ("侯", 3),
    ("史", 3),
    ("郝", 3),
    ("武", 3),
    ("叶", 2),
    ("钟", 2),
    ("谭", 2),
    ("陆", 2),
    ("汪", 2),
    ("夏", 2),
    ("方", 2),
    ("秦", 2),
    ("江", 2),
    ("尹", 2),
    ("薛", 2),
    ("段", 2),
    ("雷", 2),
    ("贺", 2),
    ("常", 2),
    ("康", 2),
    ("安", 2),
    ("廖", 1),
    ("韦", 1),
    ("邹", 1),
    ("熊", 1),
    ("邱", 1),
    ("龙", 1),
    ("陶", 1),
    ("黎", 1),
    ("顾", 1),
    ("毛", 1),
    ("龚", 1),
    ("邵", 1),
    ("万", 1),
    ("钱", 1),
    ("严", 1),
    ("戴", 1),
    ("孔", 1),
    ("牛", 1),
    ("齐", 1),
    ("赫", 1),
];

const MALE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "旭", "宁", "龙", "林", "阳", "建", "国", "峰",
    "亮", "成", "志", "海", "东", "文", "博", "晨", "昊", "然", "轩", "睿", "哲", "泽", "铭", "新",
    "立", "振",
];

const FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "桂", "英", "慧", "婷", "雪", "琳",
    "颖", "倩", "洁", "燕", "红", "梅", "莉", "萍", "晶", "丹", "玉", "兰", "月", "佳", "欣", "怡",
    "雯", "璐", "悦", "琪", "蕾", "薇", "春", "淑",
];

/// Draws names that are unique across everything already in `taken`.
pub(crate) struct NameMaker {
    rng: ChaCha8Rng,
    taken: BTreeSet<String>,
    surname_total: u32,
}

impl NameMaker {
    /// A name maker driven by `rng`.
    pub(crate) fn new(rng: ChaCha8Rng) -> NameMaker {
        NameMaker {
            rng,
            taken: BTreeSet::new(),
            surname_total: SURNAMES.iter().map(|&(_, w)| w).sum(),
        }
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        let n = u32::try_from(list.len()).expect("short list");
        list[self.rng.random_range(0..n) as usize]
    }

    fn candidate(&mut self) -> String {
        let mut r = self.rng.random_range(0..self.surname_total);
        let mut surname = SURNAMES[0].0;
        for &(s, w) in SURNAMES {
            if r < w {
                surname = s;
                break;
            }
            r -= w;
        }
        let list = if self.rng.random_range(0..100u32) < 55 {
            MALE
        } else {
            FEMALE
        };
        let first = self.pick(list);
        if self.rng.random_range(0..100u32) < 30 {
            format!("{surname}{first}")
        } else {
            let second = self.pick(list);
            format!("{surname}{first}{second}")
        }
    }

    /// The next name, never one handed out before.
    pub(crate) fn next_name(&mut self) -> String {
        loop {
            let name = self.candidate();
            if self.taken.insert(name.clone()) {
                return name;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn names_are_unique_chinese_and_repeatable() {
        let make = || {
            let mut m = NameMaker::new(ChaCha8Rng::seed_from_u64(7));
            (0..3000).map(|_| m.next_name()).collect::<Vec<_>>()
        };
        let a = make();
        assert_eq!(a, make());
        let set: BTreeSet<_> = a.iter().collect();
        assert_eq!(set.len(), a.len());
        assert!(a.iter().all(|n| (2..=3).contains(&n.chars().count())));
        // Weighted surnames: the five commonest carry a large share.
        let big5 = a
            .iter()
            .filter(|n| {
                ["王", "李", "张", "刘", "陈"]
                    .iter()
                    .any(|s| n.starts_with(s))
            })
            .count();
        assert!(big5 > 600 && big5 < 1800, "{big5}");
    }
}
