// Checks a draw in the reader's browser, from its bundle and the log key shown on the page:
// the frame hash, the seed's binding, draw/1 re-run over the frame, every log entry's
// inclusion proof and the checkpoint's Ed25519 signature. Written from the public specs
// (draw-algorithm.md, transparency-log.md) like verifier/verify.py; no external script.
"use strict";

const ShuangsuiVerify = (() => {
  const enc = new TextEncoder();

  class Refused extends Error {
    constructor(message, atFreeze = true) {
      super(message);
      this.atFreeze = atFreeze; // false: a logged failure of the draw, not a bad frame
    }
  }

  // RFC 8785 for the values draws and logs hold: keys by UTF-16 code units, integers only.
  function jcs(value) {
    if (value === null || typeof value === "boolean") return JSON.stringify(value);
    if (typeof value === "number") {
      if (!Number.isInteger(value)) throw new Error("floats do not occur in draws or log entries");
      return String(value);
    }
    if (typeof value === "string") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(jcs).join(",") + "]";
    const keys = Object.keys(value).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + jcs(value[k])).join(",") + "}";
  }

  const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const sha256Hex = async (text) => hex(await sha256(enc.encode(text)));
  const b64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

  // Section 1: "0." + the decimal digits of SHA-256(seed_hash + id), reversed.
  async function tickets(seed, ids) {
    const seedHash = await sha256Hex(seed);
    return Promise.all(
      ids.map(async (id) => {
        const n = BigInt("0x" + hex(await sha256(enc.encode(seedHash + id))));
        return "0." + n.toString(10).padStart(64, "0").split("").reverse().join("");
      })
    );
  }

  // The first k ids in (ticket, id) order, as [id, ticket] pairs.
  async function take(seed, ids, k) {
    const ts = await tickets(seed, ids);
    const ranked = ids.map((id, i) => [id, ts[i]]);
    ranked.sort((a, b) => cmp(a[1], b[1]) || cmp(a[0], b[0]));
    return ranked.slice(0, k);
  }

  // ceil(n × p) with p a decimal string, exactly.
  function ceilRatio(n, ratio) {
    const [whole, frac = ""] = ratio.split(".");
    const num = BigInt(whole + frac) * BigInt(n);
    const den = 10n ** BigInt(frac.length);
    return Number((num + den - 1n) / den);
  }

  // Section 5.
  async function selectStratum(seed, stratum) {
    const keys = stratum.units.map((u) => u.key);
    const sid = stratum.id;
    const rule = stratum.per_group;
    if (!rule) {
      const k = stratum.count != null ? stratum.count : ceilRatio(keys.length, stratum.ratio);
      if (k > keys.length) throw new Refused(`${sid}: quota ${k} > ${keys.length} units`);
      const chosen = await take(seed, keys, k);
      return { id: sid, selected: chosen.map(([key, ticket]) => ({ key, ticket })) };
    }
    const groups = new Map();
    for (const unit of stratum.units) {
      const value = String(unit.attrs[rule.by]);
      if (!groups.has(value)) groups.set(value, []);
      groups.get(value).push(unit.key);
    }
    const sizes = new Map();
    for (const [value, members] of groups) {
      const k = rule.count != null ? rule.count : ceilRatio(members.length, rule.ratio);
      if (k > members.length) throw new Refused(`${sid}: group ${value}: quota ${k} > ${members.length} units`);
      sizes.set(value, k);
    }
    const m = rule.max_groups || groups.size;
    if (m > groups.size) throw new Refused(`${sid}: ${m} groups asked, ${groups.size} present`);
    const byId = new Map([...groups.keys()].map((v) => [`group:${sid}:${v}`, v]));
    const chosenGroups = (await take(seed, [...byId.keys()], m)).map(([g]) => byId.get(g));
    const selected = [];
    for (const value of chosenGroups) selected.push(...(await take(seed, groups.get(value), sizes.get(value))));
    selected.sort((a, b) => cmp(a[1], b[1]) || cmp(a[0], b[0]));
    return { id: sid, selected: selected.map(([key, ticket]) => ({ key, ticket })), groups: chosenGroups };
  }

  // Section 6: teams, units served in result order.
  async function assign(seed, frame, strata) {
    const rules = frame.inspectors;
    const units = new Map(frame.strata.flatMap((s) => s.units.map((u) => [u.key, u])));
    const conflicts = new Set((rules.conflicts || []).map((c) => c[0] + "\n" + c[1]));
    const differOn = rules.differ_on || [];
    const leadUnits = rules.lead_units;
    const cap = rules.max_per_inspector;
    const load = new Map();
    const out = [];
    for (const stratum of strata) {
      for (const chosen of stratum.selected) {
        const unit = units.get(chosen.key);
        const candidates = rules.pool.filter(
          (i) =>
            !conflicts.has(unit.key + "\n" + i.key) &&
            differOn.every((a) => (i.attrs[a] ?? null) !== (unit.attrs[a] ?? null)) &&
            (cap == null || (load.get(i.key) || 0) < cap)
        );
        const ids = candidates.map((c) => `inspector:${unit.key}:${c.key}`);
        const order = (await take(seed, ids, ids.length)).map(([id]) => id.split(":").slice(2).join(":"));
        const unitOf = new Map(candidates.map((c) => [c.key, c.attrs.unit]));
        const team = [];
        if (leadUnits && leadUnits.length) {
          const lead = order.find((k) => leadUnits.includes(unitOf.get(k)));
          if (lead === undefined) throw new Refused(`unit ${unit.key}: no lead available`, false);
          team.push(lead);
        }
        team.push(...order.filter((k) => !team.includes(k)).slice(0, rules.team_size - team.length));
        if (team.length < rules.team_size)
          throw new Refused(`unit ${unit.key}: only ${team.length} of ${rules.team_size} inspectors`, false);
        for (const k of team) load.set(k, (load.get(k) || 0) + 1);
        out.push({ unit: unit.key, inspectors: team });
      }
    }
    return out;
  }

  // Section 7: the first attempt in which no team gets its home.
  async function pair(seed, cross) {
    const teams = [...cross.teams].sort((a, b) => cmp(a.key, b.key));
    for (let attempt = 0; attempt < 1000; attempt++) {
      const ranked = await take(seed, cross.targets.map((t) => `cross:${attempt}:${t}`), cross.targets.length);
      const targets = ranked.map(([id]) => id.split(":").slice(2).join(":"));
      if (teams.every((t, i) => t.home !== targets[i]))
        return teams.map((t, i) => ({ team: t.key, target: targets[i] }));
    }
    throw new Refused("no derangement within 1000 attempts", false);
  }

  // The result object of section 8, or a Refused error.
  async function draw(frame, seed) {
    const keys = frame.strata.flatMap((s) => s.units.map((u) => u.key));
    const members = frame.strata.flatMap((s) => s.units.flatMap((u) => u.attrs.members || []));
    if (new Set([...keys, ...members]).size !== keys.length + members.length)
      throw new Refused("unit keys are not unique");
    const strata = [];
    for (const s of frame.strata) strata.push(await selectStratum(seed, s));
    return {
      algorithm: "draw/1",
      frame_hash: await sha256Hex(jcs(frame)),
      seed,
      strata,
      assignments: frame.inspectors ? await assign(seed, frame, strata) : null,
      pairs: frame.cross ? await pair(seed, frame.cross) : null,
    };
  }

  // RFC 9162 section 2.1.3.2.
  async function verifyInclusion(entry, index, size, proof, root) {
    if (index < 0 || index >= size) return false;
    const node = (l, r) => sha256(Uint8Array.of(1, ...l, ...r));
    let fn = index, sn = size - 1, r = await sha256(Uint8Array.of(0, ...entry));
    for (const p of proof) {
      if (sn === 0) return false;
      if (fn & 1 || fn === sn) {
        r = await node(p, r);
        while (!(fn & 1) && fn !== 0) { fn >>= 1; sn >>= 1; }
      } else {
        r = await node(r, p);
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && same(r, root);
  }

  class Unsupported extends Error {}

  // The C2SP signed note, checked with the verifier key; returns [origin, size, root].
  async function openCheckpoint(note, key) {
    const [name, keyHash, ...rest] = key.split("+");
    const raw = b64(rest.join("+"));
    const id = hex((await sha256(Uint8Array.of(...enc.encode(name + "\n"), ...raw))).slice(0, 4));
    if (raw[0] !== 1 || id !== keyHash) throw new Error("malformed verifier key");
    const cut = note.lastIndexOf("\n\n");
    const text = note.slice(0, cut) + "\n";
    let publicKey;
    try {
      publicKey = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      throw new Unsupported(String(error));
    }
    for (const line of note.slice(cut + 2).split("\n")) {
      if (!line.startsWith("\u2014 ")) continue;
      const [signer, blob64] = line.slice(2).split(" ");
      const blob = b64(blob64);
      if (signer === name && hex(blob.slice(0, 4)) === keyHash) {
        const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, blob.slice(4), enc.encode(text));
        if (!ok) throw new Error("signature does not verify");
        const [origin, size, root] = text.split("\n");
        return [origin, Number(size), b64(root)];
      }
    }
    throw new Error("no signature by this key");
  }

  const digitsOk = (v) => /^[0-9]{20,}$/.test(v);
  const drandOk = (v) => /^quicknet:[1-9][0-9]*:[0-9a-f]{64}$/.test(v);

  function seedBinds(seed, frameHash) {
    const slash = seed.indexOf("/");
    const source = seed.slice(0, slash);
    const rest = seed.slice(slash + 1);
    const value = rest.slice(0, rest.lastIndexOf("/"));
    if (rest.slice(rest.lastIndexOf("/") + 1) !== frameHash) return false;
    if (source === "dice") return digitsOk(value);
    if (source === "drand") return drandOk(value);
    if (source === "dice+drand") {
      const colon = value.indexOf(":");
      return digitsOk(value.slice(0, colon)) && drandOk(value.slice(colon + 1));
    }
    return false;
  }

  // Every check of the bundle, in order; each step is [name in Chinese, passed, why].
  async function checkBundle(bundle, key, onStep) {
    const steps = [];
    const step = (name, ok, why = "") => {
      steps.push({ name, ok, why });
      if (onStep) onStep(steps[steps.length - 1]);
      return ok;
    };
    const frameHash = await sha256Hex(jcs(bundle.frame));
    step("框架哈希与公布的一致", frameHash === bundle.frame_hash, frameHash);
    if (bundle.seed) {
      step("种子绑定了本框架的哈希", seedBinds(bundle.seed, frameHash), bundle.seed);
      let recomputed = null, refused = null;
      try {
        recomputed = await draw(bundle.frame, bundle.seed);
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
        refused = error;
      }
      if (refused && refused.atFreeze) {
        step("框架合规", false, refused.message);
      } else if (bundle.result == null) {
        step("重算同样失败", recomputed === null, refused ? refused.message : "重算成功了");
      } else {
        step("按 draw/1 重算的结果与公布的结果一致", recomputed !== null && jcs(recomputed) === jcs(bundle.result),
             refused ? refused.message : "");
        step("结果哈希一致", (await sha256Hex(jcs(bundle.result))) === bundle.result_hash);
      }
    }
    const log = bundle.log;
    let size, root;
    try {
      const [origin, n, r] = await openCheckpoint(log.checkpoint, key);
      [size, root] = [n, r];
      step("检查点的 Ed25519 签名有效（用本站公布的日志公钥）", true);
      step("检查点与日志信息一致", origin === log.origin && n === log.tree_size && btoa(String.fromCharCode(...r)) === log.root_hash);
    } catch (error) {
      if (error instanceof Unsupported) {
        steps.unsupported = true;
        step("本浏览器不支持 Ed25519 签名验证，请用 verify.py 核对检查点签名", false, error.message);
      } else {
        step("检查点的 Ed25519 签名有效（用本站公布的日志公钥）", false, error.message);
      }
      return steps;
    }
    for (const item of log.entries) {
      const data = b64(item.entry_b64);
      const proof = item.inclusion_proof.map(b64);
      step(`第 ${item.index} 条日志条目在检查点中`,
           same(data, enc.encode(jcs(item.entry))) && (await verifyInclusion(data, item.index, size, proof, root)));
    }
    const kinds = new Map(log.entries.map((item) => [item.entry.kind, item]));
    const commitment = kinds.get("commitment");
    step("承诺条目记录了该框架哈希", !!commitment && commitment.entry.frame_hash === frameHash);
    if (bundle.seed) {
      const seedEntry = kinds.get("seed");
      step("承诺先于种子记入日志", !!commitment && !!seedEntry && commitment.index < seedEntry.index && seedEntry.entry.seed === bundle.seed);
    }
    if (bundle.result != null) {
      const resultEntry = kinds.get("result");
      step("结果条目记录了该结果哈希", !!resultEntry && resultEntry.entry.result_hash === (await sha256Hex(jcs(bundle.result))));
    }
    return steps;
  }

  // The page: fetch the bundle, run the checks, show each step and the outcome.
  async function run(root) {
    const list = root.querySelector("ol");
    const summary = root.querySelector("[data-summary]");
    const show = (s) => {
      const li = document.createElement("li");
      li.className = s.ok ? "passed" : "failed";
      li.textContent = (s.ok ? "✓ " : "✗ ") + s.name + (s.ok || !s.why ? "" : "：" + s.why);
      list.appendChild(li);
    };
    root.dataset.verification = "running";
    try {
      const response = await fetch(root.dataset.bundle, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`验证包下载失败（HTTP ${response.status}）`);
      const steps = await checkBundle(await response.json(), root.dataset.key, show);
      const failed = steps.find((s) => !s.ok);
      if (steps.unsupported) {
        root.dataset.verification = "unsupported";
        summary.textContent = "其余各项已在本浏览器中核对；本浏览器不能核对签名，请下载 verify.py 完成验证。";
      } else if (failed) {
        root.dataset.verification = "failed";
        root.dataset.failedStep = failed.name;
        summary.textContent = "验证未通过：" + failed.name + "。请勿采信本页内容，并用 verify.py 复核。";
      } else {
        root.dataset.verification = "passed";
        summary.textContent = `验证通过：全部 ${steps.length} 项核对无误。`;
      }
    } catch (error) {
      root.dataset.verification = "failed";
      root.dataset.failedStep = "运行验证";
      summary.textContent = "验证未通过：" + error.message;
    }
  }

  return { jcs, tickets, draw, checkBundle, verifyInclusion, Refused, run };
})();

window.ShuangsuiVerify = ShuangsuiVerify;
window.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-verification]");
  if (root) ShuangsuiVerify.run(root);
});
