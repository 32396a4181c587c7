// validate.mjs RENDERED.yaml: check the rendered kustomize base of
// deploy/kubernetes.
//
// Every object is validated against the Kubernetes OpenAPI schema of its
// kind (kubernetes-models), then the invariants chainfix needs are checked:
// replicas, non-root, read-only root filesystem, no capabilities, resources,
// probes on the admin endpoint, a grace period longer than the drain, whole
// directories mounted (never subPath, whose mounts never update), secrets
// mounted without access for others, a Service for 443 that reaches the
// site's listen port, a PodDisruptionBudget for the pods.
//
// Prints "ok ..." lines, then one "probe KIND PATH" line per probe (the
// test asks the real daemon for each); exits 1 listing every violation.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const problems = [];
const bad = (msg) => problems.push(msg);
const ok = (msg) => console.log("ok " + msg);

const docs = parseAllDocuments(readFileSync(process.argv[2], "utf8"))
  .map((d) => d.toJS())
  .filter((o) => o !== null);

// Schema validation: the model of each apiVersion/kind.
for (const obj of docs) {
  const [group, version] = obj.apiVersion.includes("/")
    ? obj.apiVersion.split("/")
    : ["", obj.apiVersion];
  const path = `kubernetes-models/${group ? group + "/" : ""}${version}/${obj.kind}`;
  let Model;
  try {
    ({ [obj.kind]: Model } = await import(path));
  } catch (e) {
    bad(`${obj.kind} ${obj.metadata?.name}: no schema for ${obj.apiVersion} (${e.message})`);
    continue;
  }
  try {
    new Model(obj).validate();
    ok(`${obj.kind}/${obj.metadata.name} matches the ${obj.apiVersion} schema`);
  } catch (e) {
    bad(`${obj.kind}/${obj.metadata?.name}: ${e.message}`);
  }
}

const find = (kind) => docs.filter((o) => o.kind === kind);
const one = (kind) => {
  const v = find(kind);
  if (v.length !== 1) bad(`expected one ${kind}, found ${v.length}`);
  return v[0];
};
const dep = one("Deployment");
const svc = one("Service");
const pdb = one("PodDisruptionBudget");
if (!dep || !svc || !pdb) finish();

// chainfix.conf, from the ConfigMap the container reads it from.
const pod = dep.spec.template.spec;
const c = pod.containers.find((x) => x.name === "chainfix") ?? pod.containers[0];
const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
const confPath = env.CHAINFIX_CONF ?? "/etc/chainfix/chainfix.conf";
const mounts = c.volumeMounts ?? [];
const volumes = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));
const mountOf = (file) =>
  mounts
    .filter((m) => file.startsWith(m.mountPath.replace(/\/?$/, "/")))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
const confMount = mountOf(confPath);
let conf = "";
if (!confMount || !volumes[confMount.name]?.configMap) {
  bad(`CHAINFIX_CONF ${confPath} is not in a mounted ConfigMap`);
} else {
  const cmName = volumes[confMount.name].configMap.name;
  const cm = find("ConfigMap").find((m) => m.metadata.name === cmName);
  const key = confPath.slice(confMount.mountPath.replace(/\/?$/, "/").length);
  conf = cm?.data?.[key];
  if (conf === undefined) bad(`ConfigMap ${cmName} has no ${key}`);
  else ok(`the configuration ${confPath} comes from ConfigMap ${cmName}`);
}
// "key = value" lines of one section ("global" or the sites), ';' comments.
const confValues = (want) => {
  const out = [];
  let sec = "";
  for (const raw of (conf ?? "").split("\n")) {
    const line = raw.replace(/\s;.*$/, "").trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue;
    const s = line.match(/^\[(.*)\]$/);
    if (s) { sec = s[1]; continue; }
    const kv = line.match(/^([a-z_]+)\s*=\s*(.*)$/);
    if (kv && (want === "global" ? sec === "global" : sec !== "global"))
      out.push([kv[1], kv[2]]);
  }
  return out;
};
const global = Object.fromEntries(confValues("global"));
const siteKeys = confValues("sites");
const secs = (d) => {
  const m = String(d).match(/^(\d+)([smhd]?)$/);
  return m ? Number(m[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]] : NaN;
};

// Replicas and disruption budget.
if (!(dep.spec.replicas >= 2)) bad(`replicas ${dep.spec.replicas}: at least 2`);
else ok(`${dep.spec.replicas} replicas`);
const podLabels = dep.spec.template.metadata.labels ?? {};
const selects = (sel) =>
  sel && Object.keys(sel).length > 0 &&
  Object.entries(sel).every(([k, v]) => podLabels[k] === v);
if (!selects(pdb.spec.selector?.matchLabels)) bad("the PodDisruptionBudget does not select the pods");
else if (!(pdb.spec.minAvailable >= 1 || pdb.spec.maxUnavailable !== undefined))
  bad("the PodDisruptionBudget allows every pod to go");
else ok("a PodDisruptionBudget keeps a replica up");

// Privileges.
const psc = pod.securityContext ?? {};
const csc = c.securityContext ?? {};
if (!(csc.runAsNonRoot ?? psc.runAsNonRoot)) bad("runAsNonRoot is not set");
if ((csc.runAsUser ?? psc.runAsUser) === 0) bad("runs as uid 0");
if (csc.readOnlyRootFilesystem !== true) bad("the root filesystem is writable");
if (csc.allowPrivilegeEscalation !== false) bad("privilege escalation is allowed");
if (!(csc.capabilities?.drop ?? []).includes("ALL")) bad("capabilities are not all dropped");
if ((csc.capabilities?.add ?? []).length > 0) bad(`capabilities added: ${csc.capabilities.add}`);
for (const p of c.ports ?? [])
  if (p.containerPort < 1024) bad(`port ${p.containerPort} needs a privilege: listen above 1023`);
ok("non-root, read-only root filesystem, no capabilities, no escalation");
for (const r of ["requests", "limits"])
  for (const k of ["cpu", "memory"])
    if (!c.resources?.[r]?.[k]) bad(`no resources.${r}.${k}`);
ok("resources requested and limited");

// Mounts: whole directories, secrets without access for others.
for (const m of mounts) {
  if (m.subPath !== undefined || m.subPathExpr !== undefined)
    bad(`volumeMount ${m.name} uses subPath: such a mount never sees an update`);
  if (m.readOnly !== true) bad(`volumeMount ${m.name} is writable`);
}
for (const [name, v] of Object.entries(volumes)) {
  if (v.secret && ((v.secret.defaultMode ?? 0o644) & 0o007) !== 0)
    bad(`Secret volume ${name}: defaultMode lets others read it`);
  for (const src of [v.secret, v.configMap])
    if (src?.items) bad(`volume ${name} picks items: mount the whole object`);
}
ok("Secrets and ConfigMaps mounted as whole directories (no subPath), secrets mode 0440");
const needMount = (key, path, kind) => {
  const m = path && mountOf(path);
  if (!path) bad(`chainfix.conf has no ${key}`);
  else if (!m || !volumes[m.name]?.[kind])
    bad(`${key} ${path} is not in a mounted ${kind}`);
};
needMount("ticket_keys", global.ticket_keys, "secret");
for (const [k, v] of siteKeys) {
  if (k === "cert" || k === "key" || k === "password_file") needMount(k, v, "secret");
  if (k === "intermediates") needMount(k, v + "/x", "configMap");
}
if (global.watch !== undefined && !/^(yes|true|on|1)$/i.test(global.watch))
  bad("watch is off: mounted updates would need a restart");
ok("certificate, key and ticket keys from Secrets, intermediates from a ConfigMap");

// Probes on the admin endpoint, reachable from the kubelet.
const admin = global.admin_listen ?? "";
const adminPort = Number(admin.split(":").pop());
if (!/^(0\.0\.0\.0|\*|\[::\])?:\d+$/.test(admin))
  bad(`admin_listen ${admin || "(none)"}: the kubelet probes the pod's address, listen on all`);
const portNum = (p) =>
  typeof p === "number" ? p : (c.ports ?? []).find((x) => x.name === p)?.containerPort;
for (const [kind, probe] of [["readiness", c.readinessProbe], ["liveness", c.livenessProbe]]) {
  if (!probe?.httpGet) { bad(`no ${kind} probe (httpGet)`); continue; }
  if (portNum(probe.httpGet.port) !== adminPort)
    bad(`${kind} probe on port ${probe.httpGet.port}, admin_listen is ${admin}`);
  console.log(`probe ${kind} ${probe.httpGet.path}`);
}
if (c.livenessProbe?.httpGet?.path !== "/healthz") bad("liveness is not /healthz");
if (c.readinessProbe?.httpGet?.path !== "/readyz") bad("readiness is not /readyz");

// The drain fits in the grace period, with the preStop pause before it.
const shutdown = secs(global.shutdown_timeout ?? "30s");
const pause = (c.lifecycle?.preStop?.exec?.command ?? []).join(" ").match(/^sleep (\d+)$/);
const needed = shutdown + (pause ? Number(pause[1]) : 0);
const grace = pod.terminationGracePeriodSeconds ?? 30;
if (!(grace > needed))
  bad(`terminationGracePeriodSeconds ${grace} <= shutdown_timeout ${shutdown}s + preStop ${needed - shutdown}s`);
else ok(`grace period ${grace}s > shutdown_timeout ${shutdown}s + preStop pause ${needed - shutdown}s`);
const live = c.livenessProbe;
if (live && live.periodSeconds * live.failureThreshold <= grace)
  bad("liveness (503 while draining) could kill a pod before its drain ends");

// The Service: 443 to the port the site listens on.
const https = (svc.spec.ports ?? []).find((p) => p.port === 443);
const listens = siteKeys.filter(([k]) => k === "listen").map(([, v]) => Number(v.split(":").pop()));
if (!https) bad("the Service has no port 443");
else if (!listens.includes(portNum(https.targetPort)))
  bad(`Service 443 goes to ${https.targetPort}, the sites listen on ${listens}`);
else if (!selects(svc.spec.selector)) bad("the Service does not select the pods");
else ok(`Service port 443 -> ${https.targetPort} (${portNum(https.targetPort)}), the site's listen port`);

finish();

function finish() {
  if (problems.length > 0) {
    for (const p of problems) console.error("FAIL " + p);
    process.exit(1);
  }
  process.exit(0);
}
