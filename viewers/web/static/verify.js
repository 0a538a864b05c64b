// Kiroku: a receipt-with-proof verified in the browser, offline, against the published key.
//
// The same checks as `kiroku verify --receipt` makes of the proof itself: the checkpoint is a C2SP
// signed note whose Ed25519 signature verifies under the published verifier key (its key ID too);
// the entry hashes to the receipt's leaf hash (RFC 6962: SHA-256(0x00 || entry)); the leaf's
// inclusion proof leads to the checkpoint's root (RFC 9162 §2.1.3.2); the receipt names the log
// the checkpoint is for. Matching the receipt's fields to the Avro entry is left to `kiroku verify`
// (the page says so). WebCrypto only; nothing leaves the browser.
"use strict";

(function () {
  const panel = document.getElementById("verify-panel");
  if (!panel || !window.crypto || !crypto.subtle) {
    return;
  }
  panel.hidden = false;
  const lang = document.documentElement.lang === "en" ? 1 : 0;
  const say = {
    ok: ["検証できました", "Verified"],
    failed: ["検証できませんでした", "Not verified"],
    format: ["受付ファイルの形式", "Receipt file format"],
    key: ["公開鍵", "Published key"],
    signature: ["チェックポイントの署名", "Checkpoint signature"],
    origin: ["ログの名前", "Log name"],
    leaf: ["記録の内容（葉ハッシュ）", "Entry (leaf hash)"],
    inclusion: ["包含証明（RFC 9162）", "Inclusion proof (RFC 9162)"],
    fields: ["受付の項目と記録の照合は kiroku verify で行います", "Matching the receipt's fields to the entry: run kiroku verify"],
  };
  const t = (key) => say[key][lang];
  const enc = new TextEncoder();

  function b64(text) {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    if (btoa(raw) !== text) throw new Error("non-canonical base64");
    return out;
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function same(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  async function sha256(data) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  }
  const node = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

  async function inclusion(leaf, index, size, proof, root) {
    if (!(index >= 0 && index < size)) throw new Error("leaf index outside the tree");
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Error("proof longer than the tree is high");
      if ((fn & 1) || fn === sn) {
        r = await node(p, r);
        if (!(fn & 1)) { while (fn && !(fn & 1)) { fn >>= 1; sn >>= 1; } }
      } else {
        r = await node(r, p);
      }
      fn >>= 1; sn >>= 1;
    }
    if (sn !== 0) throw new Error("proof shorter than the tree is high");
    if (!same(r, root)) throw new Error("the proof leads to another root");
  }

  async function verifierKey(text) {
    // name+hexid+base64 — the base64 may itself hold "+": split at the first two only.
    const trimmed = text.trim();
    const first = trimmed.indexOf("+"), second = trimmed.indexOf("+", first + 1);
    const name = trimmed.slice(0, first), id = trimmed.slice(first + 1, second), material = trimmed.slice(second + 1);
    const raw = b64(material);
    if (!name || raw.length !== 33 || raw[0] !== 1) throw new Error("not an Ed25519 verifier key");
    const expectId = (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a, 1), raw.slice(1)))).slice(0, 4);
    if ([...expectId].map((b) => b.toString(16).padStart(2, "0")).join("") !== id) throw new Error("the key ID does not match the key");
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, id: expectId, key };
  }

  async function openNote(note, vk) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw new Error("no signature block");
    const text = note.slice(0, split + 1);
    const lines = note.slice(split + 2).replace(/\n$/, "").split("\n");
    for (const line of lines) {
      if (!line.startsWith("\u2014 ")) throw new Error("malformed signature line");
      const [name, blob] = line.slice(2).split(" ");
      const raw = b64(blob);
      if (name !== vk.name || !same(raw.slice(0, 4), vk.id)) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, vk.key, raw.slice(4), enc.encode(text))) return text;
      throw new Error("the signature does not verify: the checkpoint was altered");
    }
    throw new Error("not signed by the published key");
  }

  async function verify(fileText, keyText) {
    const checks = [];
    const check = async (name, fn) => {
      try { checks.push([name, true, (await fn()) || ""]); return true; }
      catch (err) { checks.push([name, false, String(err.message || err)]); return false; }
    };
    let rp, vk, body;
    if (!(await check("format", () => {
      rp = JSON.parse(fileText);
      if (rp.format !== "kiroku-receipt-proof/1") throw new Error("not a Kiroku receipt-with-proof file");
      return rp.receipt.submission_id;
    }))) return checks;
    if (!(await check("key", async () => { vk = await verifierKey(keyText); return vk.name; }))) return checks;
    const signed = await check("signature", async () => { body = await openNote(rp.checkpoint, vk); });
    let root, size;
    if (signed) {
      await check("origin", () => {
        const [origin, sizeLine, rootLine] = body.split("\n");
        size = Number(sizeLine); root = b64(rootLine);
        if (origin !== rp.origin) throw new Error(origin + " ≠ " + rp.origin);
        return origin;
      });
    }
    const entry = b64(rp.entry);
    const leaf = await sha256(concat(Uint8Array.of(0), entry));
    await check("leaf", () => { if (!same(leaf, b64(rp.leaf_hash))) throw new Error("the entry does not hash to the leaf"); });
    if (signed) {
      await check("inclusion", async () => {
        if (rp.tree_size !== size) throw new Error("the proof is for another tree size");
        await inclusion(leaf, rp.leaf_index, size, rp.inclusion_proof.map(b64), root);
        return `${rp.leaf_index} / ${size}`;
      });
    }
    checks.push(["fields", null, ""]);
    return checks;
  }

  function show(checks) {
    const out = document.getElementById("verify-result");
    out.replaceChildren();
    const good = checks.every(([, ok]) => ok !== false);
    const head = document.createElement("p");
    head.className = good ? "verdict ok" : "verdict bad";
    head.textContent = good ? t("ok") : t("failed");
    out.append(head);
    const list = document.createElement("ul");
    for (const [name, ok, detail] of checks) {
      const li = document.createElement("li");
      li.textContent = (ok === null ? "— " : ok ? "✓ " : "✗ ") + t(name) + (detail ? ": " + detail : "");
      li.dataset.check = name;
      li.dataset.ok = String(ok);
      list.append(li);
    }
    out.append(list);
  }

  const key = panel.dataset.key;
  document.getElementById("verify-this").addEventListener("click", async () => {
    const response = await fetch(panel.dataset.receipt, { credentials: "same-origin" });
    show(await verify(await response.text(), key));
  });
  document.getElementById("verify-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (file) show(await verify(await file.text(), key));
  });
})();
