//! Partitioning a graph of cells into contiguous regions.
//!
//! Regions grow from seeds over the adjacency graph: the region whose
//! size/target ratio is lowest moves next and takes the frontier cell nearest
//! its seed. Every region stays connected by construction, and sizes track
//! their targets until a region is walled in by its neighbours.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use geo_types::Coord;

/// Marks a node that no region has taken.
pub(crate) const FREE: usize = usize::MAX;

fn dist2(a: Coord<f64>, b: Coord<f64>) -> f64 {
    (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y)
}

/// Grows regions from `seeds` over `adj`, only into nodes where `allowed`.
/// Returns the region of every node (`FREE` where none reached).
pub(crate) fn grow(
    adj: &[Vec<usize>],
    pos: &[Coord<f64>],
    weight: &[f64],
    seeds: &[usize],
    targets: &[f64],
    allowed: &dyn Fn(usize) -> bool,
) -> Vec<usize> {
    let mut owner = vec![FREE; adj.len()];
    let mut size = vec![0.0; seeds.len()];
    // Non-negative distances order like their bit patterns: deterministic keys.
    let mut frontier: Vec<BinaryHeap<Reverse<(u64, usize)>>> = vec![BinaryHeap::new(); seeds.len()];
    let push_neighbours =
        |k: usize, node: usize, owner: &[usize], heap: &mut BinaryHeap<Reverse<(u64, usize)>>| {
            for &m in &adj[node] {
                if owner[m] == FREE && allowed(m) {
                    heap.push(Reverse((dist2(pos[m], pos[seeds[k]]).to_bits(), m)));
                }
            }
        };
    for (k, &s) in seeds.iter().enumerate() {
        assert_eq!(owner[s], FREE, "seeds must be distinct");
        owner[s] = k;
        size[k] = weight[s];
    }
    for (k, &s) in seeds.iter().enumerate() {
        push_neighbours(k, s, &owner, &mut frontier[k]);
    }
    loop {
        let mut next: Option<usize> = None;
        for k in 0..seeds.len() {
            while let Some(&Reverse((_, m))) = frontier[k].peek() {
                if owner[m] == FREE {
                    break;
                }
                frontier[k].pop();
            }
            if frontier[k].is_empty() {
                continue;
            }
            if next.is_none_or(|b| size[k] / targets[k] < size[b] / targets[b]) {
                next = Some(k);
            }
        }
        let Some(k) = next else { break };
        let Some(Reverse((_, m))) = frontier[k].pop() else {
            break;
        };
        owner[m] = k;
        size[k] += weight[m];
        push_neighbours(k, m, &owner, &mut frontier[k]);
    }
    owner
}

/// Splits `total` into integer shares proportional to `weights`, each at least
/// `min`, by largest remainder (ties go to the lower index).
pub(crate) fn apportion(total: usize, weights: &[f64], min: usize) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let quota: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut share: Vec<usize> = quota
        .iter()
        .map(|q| (q.floor() as usize).max(min))
        .collect();
    let mut given: usize = share.iter().sum();
    while given < total {
        let k = (0..share.len())
            .max_by(|&a, &b| {
                (quota[a] - share[a] as f64)
                    .total_cmp(&(quota[b] - share[b] as f64))
                    .then(b.cmp(&a))
            })
            .expect("non-empty weights");
        share[k] += 1;
        given += 1;
    }
    while given > total {
        let k = (0..share.len())
            .filter(|&k| share[k] > min)
            .min_by(|&a, &b| {
                (quota[a] - share[a] as f64)
                    .total_cmp(&(quota[b] - share[b] as f64))
                    .then(a.cmp(&b))
            })
            .expect("total must allow the minimum share");
        share[k] -= 1;
        given -= 1;
    }
    share
}

/// Picks `k` well-spread seed nodes among `nodes`: farthest-point start, then
/// a few weighted Lloyd (k-means) rounds, then the node nearest each centre.
pub(crate) fn spread_seeds(
    nodes: &[usize],
    pos: &[Coord<f64>],
    weight: &[f64],
    k: usize,
) -> Vec<usize> {
    assert!(k >= 1 && k <= nodes.len(), "need 1..=n seeds");
    let total_w: f64 = nodes.iter().map(|&n| weight[n]).sum();
    let centre = Coord {
        x: nodes.iter().map(|&n| pos[n].x * weight[n]).sum::<f64>() / total_w,
        y: nodes.iter().map(|&n| pos[n].y * weight[n]).sum::<f64>() / total_w,
    };
    let farthest_from = |cs: &[Coord<f64>]| -> usize {
        let mut best = nodes[0];
        let mut best_d = f64::NEG_INFINITY;
        for &n in nodes {
            let d = cs
                .iter()
                .map(|&c| dist2(pos[n], c))
                .fold(f64::INFINITY, f64::min);
            if d > best_d {
                best = n;
                best_d = d;
            }
        }
        best
    };
    let mut centres = if k == 1 {
        vec![centre]
    } else {
        let mut cs = vec![pos[farthest_from(&[centre])]];
        while cs.len() < k {
            let n = farthest_from(&cs);
            cs.push(pos[n]);
        }
        cs
    };
    for _ in 0..8 {
        let mut acc = vec![(0.0, 0.0, 0.0); k];
        for &n in nodes {
            let j = nearest(&centres, pos[n]);
            acc[j].0 += pos[n].x * weight[n];
            acc[j].1 += pos[n].y * weight[n];
            acc[j].2 += weight[n];
        }
        for (c, a) in centres.iter_mut().zip(&acc) {
            if a.2 > 0.0 {
                *c = Coord {
                    x: a.0 / a.2,
                    y: a.1 / a.2,
                };
            }
        }
    }
    let mut taken: Vec<usize> = Vec::with_capacity(k);
    for c in &centres {
        let n = nodes
            .iter()
            .copied()
            .filter(|n| !taken.contains(n))
            .min_by(|&a, &b| {
                dist2(pos[a], *c)
                    .total_cmp(&dist2(pos[b], *c))
                    .then(a.cmp(&b))
            })
            .expect("k <= number of nodes");
        taken.push(n);
    }
    taken
}

fn nearest(cs: &[Coord<f64>], p: Coord<f64>) -> usize {
    let mut best = 0;
    for (j, c) in cs.iter().enumerate() {
        if dist2(*c, p) < dist2(cs[best], p) {
            best = j;
        }
    }
    best
}

/// Is `members` connected in `adj` (restricted to members)?
pub(crate) fn is_connected(adj: &[Vec<usize>], members: &[usize]) -> bool {
    let Some(&start) = members.first() else {
        return true;
    };
    let mut inside = vec![false; adj.len()];
    for &m in members {
        inside[m] = true;
    }
    let mut seen = vec![false; adj.len()];
    let mut stack = vec![start];
    seen[start] = true;
    let mut reached = 1;
    while let Some(n) = stack.pop() {
        for &m in &adj[n] {
            if inside[m] && !seen[m] {
                seen[m] = true;
                reached += 1;
                stack.push(m);
            }
        }
    }
    reached == members.len()
}

/// Connected components of `adj`, numbered from node 0 upward.
pub(crate) fn components(adj: &[Vec<usize>]) -> Vec<usize> {
    let mut comp = vec![FREE; adj.len()];
    let mut next = 0;
    for s in 0..adj.len() {
        if comp[s] != FREE {
            continue;
        }
        comp[s] = next;
        let mut stack = vec![s];
        while let Some(n) = stack.pop() {
            for &m in &adj[n] {
                if comp[m] == FREE {
                    comp[m] = next;
                    stack.push(m);
                }
            }
        }
        next += 1;
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_graph(n: usize) -> (Vec<Vec<usize>>, Vec<Coord<f64>>) {
        let adj = (0..n)
            .map(|i| {
                let mut v = Vec::new();
                if i > 0 {
                    v.push(i - 1);
                }
                if i + 1 < n {
                    v.push(i + 1);
                }
                v
            })
            .collect();
        let pos = (0..n)
            .map(|i| Coord {
                x: i as f64,
                y: 0.0,
            })
            .collect();
        (adj, pos)
    }

    #[test]
    fn apportion_respects_total_minimum_and_proportion() {
        assert_eq!(apportion(10, &[1.0, 1.0, 2.0], 1), vec![3, 2, 5]);
        assert_eq!(apportion(5, &[100.0, 0.001, 0.001], 1), vec![3, 1, 1]);
        assert_eq!(apportion(237, &[1.0; 43], 1).iter().sum::<usize>(), 237);
    }

    #[test]
    fn growth_covers_a_line_with_contiguous_balanced_regions() {
        let (adj, pos) = line_graph(100);
        let w = vec![1.0; 100];
        let owner = grow(&adj, &pos, &w, &[10, 90], &[1.0, 3.0], &|_| true);
        assert!(owner.iter().all(|&o| o != FREE));
        let a: Vec<usize> = (0..100).filter(|&i| owner[i] == 0).collect();
        let b: Vec<usize> = (0..100).filter(|&i| owner[i] == 1).collect();
        assert!(is_connected(&adj, &a) && is_connected(&adj, &b));
        assert!(
            a.len() < b.len(),
            "target 1:3 must give the second region more"
        );
    }

    #[test]
    fn components_and_connectivity_see_gaps() {
        let (mut adj, _) = line_graph(6);
        adj[2].retain(|&m| m != 3);
        adj[3].retain(|&m| m != 2);
        assert_eq!(components(&adj), vec![0, 0, 0, 1, 1, 1]);
        assert!(!is_connected(&adj, &[1, 2, 3]));
        assert!(is_connected(&adj, &[3, 4]));
    }
}
