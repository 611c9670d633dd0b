// oasis-lab browser provider runtime: runs the project's WGSL kernels with WebGPU and talks to
// the Python bridge (oasis_lab/browser/provider.py) over loopback HTTP.
// Protocol: the page POSTs each reply to /<token>/exchange and the response body is the next
// command. Both are binary messages: u32 header length (little endian), the JSON header, padding
// to 4 bytes, then the blobs (each padded to 4 bytes; header.blobs lists [offset, length]).
// Arrays travel as raw bytes, never as JSON or base64 text.
// Signs of life: a heartbeat POST to /<token>/beat every `beat` seconds (the page URL's query),
// so that Python can tell this page's renderer from a spare one when a renderer dies.
'use strict';

const TOKEN = location.pathname.split('/')[1];
const EXCHANGE = `/${TOKEN}/exchange`;
const BEAT_MS = 1000 * (Number(new URLSearchParams(location.search).get('beat')) || 0.25);
const S = {
  adapter: null, device: null,
  shaders: new Map(),    // kernel|variant -> GPUShaderModule
  pipelines: new Map(),  // kernel|variant|entry|constants -> GPUComputePipeline
  kept: new Map(),       // weight id -> GPUBuffer (uploaded once)
  resident: new Map(),   // output key -> GPUBuffer (a node output kept for later nodes)
  pool: new Map(),       // usage:size -> [GPUBuffer]
  poolBytes: 0,
  perturb: null,         // {call, element, ulps}: the cheating provider's JS perturbation
  calls: 0,
};
const POOL_CAP = 256 * 1024 * 1024;

function pad4(n) { return (n + 3) & ~3; }

function encode(header, blobs) {
  const offsets = [];
  let pos = 0;
  for (const b of blobs) { offsets.push([pos, b.byteLength]); pos += pad4(b.byteLength); }
  header.blobs = offsets;
  const h = new TextEncoder().encode(JSON.stringify(header));
  const base = 4 + pad4(h.length);
  const out = new Uint8Array(base + pos);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 4);
  blobs.forEach((b, i) => out.set(b, base + offsets[i][0]));
  return out;
}

function decode(buf) {
  const u8 = new Uint8Array(buf);
  const hl = new DataView(buf).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(4, 4 + hl)));
  const base = 4 + pad4(hl);
  const blobs = (header.blobs || []).map(([o, n]) => ({u8: u8.subarray(base + o, base + o + pad4(n)), n}));
  return {header, blobs};
}

function reportError(kind, message) {
  fetch(`/${TOKEN}/error`, {method: 'POST', body: JSON.stringify({kind, message: String(message)})})
    .catch(() => {});
}
window.addEventListener('error', (e) => reportError('uncaught exception', `${e.message} (${e.filename}:${e.lineno})`));
window.addEventListener('unhandledrejection', (e) => reportError('unhandled rejection', (e.reason && e.reason.stack) || e.reason));

const LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupStorageSize', 'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize', 'maxBindGroups'];

async function init() {
  if (!navigator.gpu) {
    throw new Error('NO_WEBGPU: navigator.gpu is undefined (start Chromium with --enable-unsafe-webgpu)');
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('NO_ADAPTER: navigator.gpu.requestAdapter() returned null');
  const requiredLimits = {};
  for (const k of LIMITS) requiredLimits[k] = adapter.limits[k];
  const device = await adapter.requestDevice({requiredLimits});
  device.lost.then((info) => reportError('device lost', `${info.reason}: ${info.message}`));
  device.addEventListener('uncapturederror', (e) => reportError('uncaptured GPU error', e.error.message));
  S.adapter = adapter;
  S.device = device;
  const ai = adapter.info || {};
  const limits = {};
  for (const k of LIMITS) limits[k] = device.limits[k];
  document.getElementById('status').textContent = 'ready';
  return {ok: true, info: {vendor: ai.vendor || '', architecture: ai.architecture || '',
    device: ai.device || '', description: ai.description || ''}, limits,
    features: [...adapter.features], userAgent: navigator.userAgent};
}

function take(size, usage) {
  const maxSize = S.device.limits.maxBufferSize;
  let cap = Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(size, 1))));
  cap = Math.max(size, Math.min(cap, maxSize));
  const stack = S.pool.get(`${usage}:${cap}`);
  if (stack && stack.length) { S.poolBytes -= cap; return stack.pop(); }
  return S.device.createBuffer({size: cap, usage});
}

function give(buf) {
  if (S.poolBytes + buf.size > POOL_CAP) { buf.destroy(); return; }
  const key = `${buf.usage}:${buf.size}`;
  if (!S.pool.has(key)) S.pool.set(key, []);
  S.pool.get(key).push(buf);
  S.poolBytes += buf.size;
}

async function compile(key, name, code) {
  S.device.pushErrorScope('validation');
  const module = S.device.createShaderModule({code, label: name});
  const info = await module.getCompilationInfo();
  const err = await S.device.popErrorScope();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length || err) {
    const text = errors.map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message}`).join('; ');
    throw new Error(`COMPILE: kernel ${name} failed to compile: ${text || err.message}`);
  }
  S.shaders.set(key, module);
  return info.messages.map((m) => `${m.type} line ${m.lineNum}: ${m.message}`);
}

async function pipeline(h) {
  const skey = `${h.kernel}|${h.variant}`;
  const key = `${skey}|${h.entry}|${JSON.stringify(h.constants || {})}`;
  let p = S.pipelines.get(key);
  if (p) return p;
  const module = S.shaders.get(skey);
  if (!module) throw new Error(`kernel ${skey} was never sent to the page`);
  const compute = {module, entryPoint: h.entry};
  if (h.constants && Object.keys(h.constants).length) compute.constants = h.constants;
  try {
    p = await S.device.createComputePipelineAsync({layout: 'auto', compute, label: h.kernel});
  } catch (e) {
    throw new Error(`COMPILE: pipeline ${h.kernel}:${h.entry}: ${e.message}`);
  }
  S.pipelines.set(key, p);
  return p;
}

function perturbOutput(out, now) {
  // The cheating provider: add `ulps` to the bits of one element of the chosen call's output
  // (a float32 of either sign moves `ulps` steps in magnitude; an int32 value moves by `ulps`).
  // `now` (sent with the run) or the armed `S.perturb` (its call-th run) picks the call.
  const p = now || (S.perturb && S.calls === S.perturb.call ? S.perturb : null);
  if (!p || out.byteLength < 4) return false;
  const words = new Int32Array(out.buffer, out.byteOffset, out.byteLength >> 2);
  const i = p.element % words.length;
  words[i] = words[i] + p.ulps;
  return true;
}

function scanFloats(out, reply) {
  // The entries Python's argument checks read: the first non-finite and the first negative
  // float32 (index and bits), so a placeholder of a resident output fails the checks alike.
  const f = new Float32Array(out.buffer, out.byteOffset, out.byteLength >> 2);
  const u = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >> 2);
  let nonfinite = null, negative = null;
  for (let i = 0; i < f.length && (nonfinite === null || negative === null); i++) {
    const v = f[i];
    if (nonfinite === null && !Number.isFinite(v)) nonfinite = [i, u[i]];
    if (negative === null && v < 0) negative = [i, u[i]];
  }
  reply.first_nonfinite = nonfinite;
  reply.first_negative = negative;
}

async function hexDigest(prefix, bytes) {
  const head = new TextEncoder().encode(prefix);
  const all = new Uint8Array(head.length + bytes.byteLength);
  all.set(head, 0);
  all.set(bytes, head.length);
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function run(h, blobs) {
  const dev = S.device;
  for (const id of h.free || []) {
    const b = S.kept.get(id);
    if (b) { b.destroy(); S.kept.delete(id); }
  }
  const skey = `${h.kernel}|${h.variant}`;
  if (h.source !== undefined) await compile(skey, h.kernel, h.source);
  const pipe = await pipeline(h);
  const pooled = [];
  const SU = GPUBufferUsage;
  try {
    const params = blobs[h.params];
    const ubuf = take(params.u8.byteLength, SU.UNIFORM | SU.COPY_DST);
    pooled.push(ubuf);
    dev.queue.writeBuffer(ubuf, 0, params.u8.buffer, params.u8.byteOffset, params.u8.byteLength);
    const entries = [{binding: 0, resource: {buffer: ubuf, offset: 0, size: params.u8.byteLength}}];
    h.inputs.forEach((inp, i) => {
      let buf;
      if (inp.res !== undefined) {
        buf = S.resident.get(inp.res);
        if (!buf) throw new Error(`output ${inp.res} is not on the device`);
      } else if (inp.blob === undefined) {
        buf = S.kept.get(inp.ref);
        if (!buf) throw new Error(`weight ${inp.ref} is not on the device`);
      } else {
        const data = blobs[inp.blob];
        if (inp.keep !== undefined) {
          buf = dev.createBuffer({size: inp.bind, usage: SU.STORAGE | SU.COPY_DST});
          S.kept.set(inp.keep, buf);
        } else {
          buf = take(inp.bind, SU.STORAGE | SU.COPY_DST);
          pooled.push(buf);
        }
        if (data.n) dev.queue.writeBuffer(buf, 0, data.u8.buffer, data.u8.byteOffset, data.u8.byteLength);
      }
      entries.push({binding: i + 1, resource: {buffer: buf, offset: 0, size: inp.bind}});
    });
    const obind = Math.max(4, pad4(h.out_nbytes));
    const keepOut = h.keep_out !== undefined;
    const obuf = keepOut ? dev.createBuffer({size: obind, usage: SU.STORAGE | SU.COPY_SRC | SU.COPY_DST})
      : take(obind, SU.STORAGE | SU.COPY_SRC);
    if (keepOut) S.resident.set(h.keep_out, obuf);
    const staging = take(obind, SU.MAP_READ | SU.COPY_DST);
    pooled.push(staging);
    if (!keepOut) pooled.push(obuf);
    entries.push({binding: h.inputs.length + 1, resource: {buffer: obuf, offset: 0, size: obind}});
    dev.pushErrorScope('validation');
    const group = dev.createBindGroup({layout: pipe.getBindGroupLayout(0), entries});
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    const repeat = h.repeat || 1;
    for (let r = 0; r < repeat; r++) pass.dispatchWorkgroups(h.groups[0], h.groups[1], h.groups[2]);
    pass.end();
    enc.copyBufferToBuffer(obuf, 0, staging, 0, obind);
    const t0 = performance.now();
    dev.queue.submit([enc.finish()]);
    const err = await dev.popErrorScope();
    if (err) throw new Error(`${h.kernel}:${h.entry}: ${err.message}`);
    await staging.mapAsync(GPUMapMode.READ, 0, obind);
    const ms = performance.now() - t0;
    const out = new Uint8Array(staging.getMappedRange(0, obind).slice(0, h.out_nbytes));
    staging.unmap();
    S.calls += 1;
    if (perturbOutput(out, h.perturb_now) && keepOut) {
      dev.queue.writeBuffer(obuf, 0, out.buffer, out.byteOffset, pad4(out.byteLength));  // later nodes read it
    }
    const reply = {ok: true, ms};
    if (h.scan) scanFloats(out, reply);
    if (h.digest !== undefined) {
      const hashed = h.cast === 'i1'
        ? new Uint8Array(Int8Array.from(new Int32Array(out.buffer, out.byteOffset, out.byteLength >> 2)).buffer)
        : out;
      reply.digest = await hexDigest(h.digest, hashed);
    }
    return encode(reply, h.want === 'digest' ? [] : [out]);
  } finally {
    for (const b of pooled) give(b);
  }
}

async function handle(h, blobs) {
  switch (h.op) {
    case 'run': return run(h, blobs);
    case 'perturb':
      S.perturb = h.perturb;
      S.calls = 0;
      return encode({ok: true}, []);
    case 'eval': {
      const AsyncFunction = (async () => {}).constructor;
      const value = await new AsyncFunction(h.code)();
      return encode({ok: true, value: value === undefined ? null : value}, []);
    }
    case 'release':
      for (const b of S.resident.values()) b.destroy();
      S.resident.clear();
      return encode({ok: true}, []);
    case 'stats':
      return encode({ok: true, kept: S.kept.size, resident: S.resident.size, pipelines: S.pipelines.size,
        shaders: S.shaders.size, calls: S.calls}, []);
    default: throw new Error(`unknown command ${h.op}`);
  }
}

function beat() {
  fetch(`/${TOKEN}/beat`, {method: 'POST', body: ''}).catch(() => {});
}

async function main() {
  setInterval(beat, BEAT_MS);
  let reply;
  try {
    reply = encode(await init(), []);
  } catch (e) {
    reply = encode({ok: false, error: String(e.message || e)}, []);
  }
  for (;;) {
    let resp;
    try {
      resp = await fetch(EXCHANGE, {method: 'POST', body: reply});
    } catch (e) {
      window.close();  // the bridge (the Python process) is gone: let the browser exit
      return;
    }
    if (!resp.ok) { window.close(); return; }
    const {header, blobs} = decode(await resp.arrayBuffer());
    if (header.op === 'close') {
      document.getElementById('status').textContent = 'closed';
      window.close();
      return;
    }
    try {
      reply = await handle(header, blobs);
    } catch (e) {
      reply = encode({ok: false, error: String((e && e.message) || e)}, []);
    }
  }
}

main();
