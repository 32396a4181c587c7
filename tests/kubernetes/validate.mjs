// validate.mjs [--ticket-rotation] RENDERED.yaml...: check the rendered
// kustomize base of deploy/kubernetes (and, with --ticket-rotation, the
// rotation CronJob of deploy/kubernetes/ticket-rotation rendered with it).
//
// Every object is validated against the Kubernetes OpenAPI schema of its
// kind (kubernetes-models), then the invariants chainfix needs are checked:
// replicas, non-root, read-only root filesystem, no capabilities, resources,
// probes on the admin endpoint, a grace period longer than the drain, whole
// directories mounted (never subPath, whose mounts never update), secrets
// mounted without access for others, a Service for 443 that reaches the
// site's listen port, a PodDisruptionBudget for the pods.
//
// The rotation: a daily CronJob, never two runs at once, bounded retries
// and history; its pod not selected by the Service, the budget or the
// Deployment; non-root, read-only root, no capabilities, seccomp, resources
// for every container; the rotate step runs the shipped script with --keep 3
// or more on the very file the replicas read (Secret, key, mount path), into
// a memory emptyDir; the write-back patches that Secret by name with the
// patch the rotate step writes, and is the only container holding an API
// token; the Role may get and patch that one Secret, by name, nothing else.
//
// Prints "ok ..." lines, then one "probe KIND PATH" line per probe (the
// test asks the real daemon for each); exits 1 listing every violation.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const problems = [];
const bad = (msg) => problems.push(msg);
const ok = (msg) => console.log("ok " + msg);

const argv = process.argv.slice(2);
const rotation = argv.includes("--ticket-rotation");
const docs = argv
  .filter((a) => a !== "--ticket-rotation")
  .flatMap((f) => parseAllDocuments(readFileSync(f, "utf8")))
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
const unprivileged = (x, psc, who) => {
  const sc = x.securityContext ?? {};
  if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) bad(`${who}runAsNonRoot is not set`);
  if ((sc.runAsUser ?? psc.runAsUser) === 0) bad(`${who}runs as uid 0`);
  if (sc.readOnlyRootFilesystem !== true) bad(`${who}the root filesystem is writable`);
  if (sc.allowPrivilegeEscalation !== false) bad(`${who}privilege escalation is allowed`);
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) bad(`${who}capabilities are not all dropped`);
  if ((sc.capabilities?.add ?? []).length > 0) bad(`${who}capabilities added: ${sc.capabilities.add}`);
  if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== "RuntimeDefault")
    bad(`${who}no RuntimeDefault seccomp profile`);
  for (const r of ["requests", "limits"])
    for (const k of ["cpu", "memory"])
      if (!x.resources?.[r]?.[k]) bad(`${who}no resources.${r}.${k}`);
};
unprivileged(c, pod.securityContext ?? {}, "");
for (const p of c.ports ?? [])
  if (p.containerPort < 1024) bad(`port ${p.containerPort} needs a privilege: listen above 1023`);
ok("non-root, read-only root filesystem, no capabilities, no escalation, seccomp RuntimeDefault");
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

if (rotation) checkRotation();
else if (find("CronJob").length > 0) bad("a CronJob: validate with --ticket-rotation");

finish();

// The ticket key rotation of deploy/kubernetes/ticket-rotation.
function checkRotation() {
  const cj = one("CronJob");
  const sa = one("ServiceAccount");
  const role = one("Role");
  const rb = one("RoleBinding");
  for (const k of ["ClusterRole", "ClusterRoleBinding"])
    if (find(k).length > 0) bad(`a ${k}: the rotation needs no cluster-wide right`);
  if (!cj || !sa || !role || !rb) return;

  // What the replicas read: the Secret and its key behind ticket_keys.
  const tkPath = global.ticket_keys ?? "";
  const tkMount = tkPath && mountOf(tkPath);
  const tkVol = tkMount && volumes[tkMount.name]?.secret;
  if (!tkVol) {
    bad(`ticket_keys ${tkPath || "(none)"} is not in a mounted Secret: nothing to rotate`);
    return;
  }
  const tkSecret = tkVol.secretName;
  const tkKey = tkPath.slice(tkMount.mountPath.replace(/\/?$/, "/").length);

  // When, how often, how many.
  const f = String(cj.spec.schedule ?? "").trim().split(/\s+/);
  if (f.length !== 5 || !/^\d+$/.test(f[0]) || !/^\d+$/.test(f[1]) ||
      f.slice(2).some((x) => x !== "*"))
    bad(`schedule "${cj.spec.schedule}": not once a day ("M H * * *")`);
  else ok(`schedule "${cj.spec.schedule}" (${cj.spec.timeZone ?? "the controller's zone"}): once a day`);
  if (cj.spec.concurrencyPolicy !== "Forbid")
    bad(`concurrencyPolicy ${cj.spec.concurrencyPolicy ?? "Allow"}: two rotations could run at once`);
  else ok("concurrencyPolicy Forbid");
  const job = cj.spec.jobTemplate?.spec ?? {};
  for (const [k, v] of [
    ["successfulJobsHistoryLimit", cj.spec.successfulJobsHistoryLimit],
    ["failedJobsHistoryLimit", cj.spec.failedJobsHistoryLimit],
    ["backoffLimit", job.backoffLimit],
    ["activeDeadlineSeconds", job.activeDeadlineSeconds],
  ])
    if (typeof v !== "number") bad(`no ${k}`);
  ok(`history ${cj.spec.successfulJobsHistoryLimit} succeeded / ${cj.spec.failedJobsHistoryLimit} failed, ` +
     `backoffLimit ${job.backoffLimit}, activeDeadlineSeconds ${job.activeDeadlineSeconds}`);

  // The pod: nobody's endpoint, no privilege.
  const jp = job.template?.spec ?? {};
  const jl = job.template?.metadata?.labels ?? {};
  const picks = (sel) =>
    sel && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => jl[k] === v);
  for (const [what, sel] of [
    ["Service", svc.spec.selector],
    ["PodDisruptionBudget", pdb.spec.selector?.matchLabels],
    ["Deployment", dep.spec.selector?.matchLabels],
  ])
    if (picks(sel)) bad(`the ${what} selects the rotation pod`);
  ok("the rotation pod is selected by neither the Service, the budget nor the Deployment");
  if (!["OnFailure", "Never"].includes(jp.restartPolicy)) bad(`restartPolicy ${jp.restartPolicy}`);
  if (jp.serviceAccountName !== sa.metadata.name)
    bad(`the pod runs as ${jp.serviceAccountName ?? "default"}, not ${sa.metadata.name}`);
  const jpsc = jp.securityContext ?? {};
  const inits = jp.initContainers ?? [];
  const mains = jp.containers ?? [];
  for (const x of [...inits, ...mains]) {
    unprivileged(x, jpsc, `container ${x.name}: `);
    for (const m of x.volumeMounts ?? [])
      if (m.subPath !== undefined || m.subPathExpr !== undefined)
        bad(`container ${x.name}: volumeMount ${m.name} uses subPath`);
  }
  ok(`${inits.length + mains.length} containers: non-root, read-only root filesystem, ` +
     "no capabilities, seccomp RuntimeDefault, resources");
  if (inits.length !== 1 || mains.length !== 1) {
    bad(`expected one init container (rotate) and one container (write-back), found ${inits.length} and ${mains.length}`);
    return;
  }
  const [rot] = inits;
  const [wb] = mains;
  const jvol = Object.fromEntries((jp.volumes ?? []).map((v) => [v.name, v]));
  for (const [name, v] of Object.entries(jvol)) {
    if (v.hostPath) bad(`volume ${name} is a hostPath`);
    if (v.secret && ((v.secret.defaultMode ?? 0o644) & 0o007) !== 0)
      bad(`Secret volume ${name}: defaultMode lets others read it`);
  }
  const under = (x, file) =>
    (x.volumeMounts ?? [])
      .filter((m) => file.startsWith(m.mountPath.replace(/\/?$/, "/")))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];

  // Step 1: the shipped script rotates a copy of the replicas' key file.
  if (rot.image !== c.image)
    bad(`rotate runs ${rot.image}, the replicas ${c.image}: pin both with images: in the overlay`);
  const rcmd = [...(rot.command ?? []), ...(rot.args ?? [])];
  const script = rcmd[1] ?? "";
  const sm = under(rot, script);
  const scm = sm && jvol[sm.name]?.configMap;
  const scmData = scm && find("ConfigMap").find((m) => m.metadata.name === scm.name)?.data;
  const scriptKey = sm && script.slice(sm.mountPath.replace(/\/?$/, "/").length);
  if (!/(^|\/)bash$/.test(rcmd[0] ?? "") || !scmData?.[scriptKey]?.includes("ticket-keys rotate"))
    bad(`rotate runs "${rcmd.join(" ")}": not bash on the rotation script of a ConfigMap in the build`);
  const ki = rcmd.indexOf("--keep");
  const keep = ki > 0 ? Number(rcmd[ki + 1]) : NaN;
  const [src, patchPath] = ki > 0 ? rcmd.slice(ki + 2) : [];
  if (!(keep >= 3))
    bad(`rotate keeps ${ki > 0 ? rcmd[ki + 1] : "(no --keep)"} keys: staged rotation needs 3`);
  const srcMount = src && under(rot, src);
  const srcVol = srcMount && jvol[srcMount.name]?.secret;
  const srcKey = srcMount && src.slice(srcMount.mountPath.replace(/\/?$/, "/").length);
  if (!srcVol || srcVol.secretName !== tkSecret || srcKey !== tkKey || srcVol.items)
    bad(`rotate reads ${src ?? "(nothing)"}: not the key ${tkKey} of the Secret ${tkSecret}, whole, that the replicas read`);
  else ok(`rotate: ${rcmd.slice(1).join(" ")}: Secret ${tkSecret} key ${tkKey}, mounted on ${srcMount.mountPath}, --keep ${keep}`);
  const pm = patchPath && under(rot, patchPath);
  const pvol = pm && jvol[pm.name];
  if (!pvol?.emptyDir || pvol.emptyDir.medium !== "Memory" || pm.readOnly)
    bad(`rotate writes ${patchPath ?? "(nothing)"}: not in a writable emptyDir in memory`);
  else ok(`the rotated keys stay in memory (emptyDir ${pm.name}, medium Memory)`);

  // Step 2: the patch goes to that Secret, by name, from the only
  // container that holds an API token.
  const wcmd = [...(wb.command ?? []), ...(wb.args ?? [])];
  const opt = (name) => {
    const i = wcmd.findIndex((a) => a === name || a.startsWith(name + "="));
    return i < 0 ? undefined : wcmd[i].includes("=") ? wcmd[i].slice(name.length + 1) : wcmd[i + 1];
  };
  const wpm = opt("--patch-file") && under(wb, opt("--patch-file"));
  if (!/(^|\/)kubectl$/.test(wcmd[0] ?? "") || wcmd[1] !== "patch" ||
      !/^secrets?$/.test(wcmd[2] ?? "") || opt("--type") !== "json")
    bad(`write-back runs "${wcmd.join(" ")}": not kubectl patch secret NAME --type=json`);
  else if (wcmd[3] !== tkSecret)
    bad(`write-back patches the Secret ${wcmd[3]}, the replicas read ${tkSecret}`);
  else if (opt("--patch-file") !== patchPath || wpm?.name !== pm?.name)
    bad(`write-back sends ${opt("--patch-file")}, rotate writes ${patchPath}`);
  else ok(`write-back: ${wcmd.join(" ")}`);
  if (!/(@sha256:[0-9a-f]{64}|:[^/:@]+)$/.test(wb.image ?? "") || /:latest$/.test(wb.image))
    bad(`write-back image ${wb.image}: pin a tag or a digest`);
  const tokenVols = Object.entries(jvol)
    .filter(([, v]) => (v.projected?.sources ?? []).some((s) => s.serviceAccountToken))
    .map(([n]) => n);
  const holds = (x) => (x.volumeMounts ?? []).some((m) => tokenVols.includes(m.name));
  if ((jp.automountServiceAccountToken ?? sa.automountServiceAccountToken) !== false)
    bad("the service account token is mounted into every container");
  else if (holds(rot)) bad("rotate holds an API token");
  else if (!(wb.volumeMounts ?? []).some((m) => tokenVols.includes(m.name) &&
      m.mountPath === "/var/run/secrets/kubernetes.io/serviceaccount"))
    bad("write-back has no API token where kubectl looks for it");
  else ok("only write-back holds an API token");

  // The Role: get and patch that one Secret, by name; nothing else.
  const rules = role.rules ?? [];
  const r = rules[0] ?? {};
  const same = (a, b) => JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...b].sort());
  const verbs = r.verbs ?? [];
  if (rules.length !== 1 || !same(r.apiGroups, [""]) || !same(r.resources, ["secrets"]) ||
      !same(r.resourceNames, [tkSecret]))
    bad(`Role ${role.metadata.name}: ${JSON.stringify(rules)}: more than the Secret ${tkSecret}, by name`);
  else if (!verbs.includes("patch") || !verbs.includes("get") ||
      verbs.some((v) => !["get", "patch", "update"].includes(v)))
    bad(`Role ${role.metadata.name} may ${verbs.join(", ")}: get and patch (kubectl patch gets first), nothing else`);
  else ok(`Role ${role.metadata.name}: ${verbs.join(", ")} on secrets/${tkSecret} only`);
  const subj = rb.subjects ?? [];
  if (rb.roleRef?.kind !== "Role" || rb.roleRef?.name !== role.metadata.name || subj.length !== 1 ||
      subj[0].kind !== "ServiceAccount" || subj[0].name !== sa.metadata.name)
    bad(`RoleBinding ${rb.metadata.name} does not bind ${role.metadata.name} to ${sa.metadata.name} alone`);
  else ok(`RoleBinding: ${role.metadata.name} to ServiceAccount ${sa.metadata.name} alone`);
}

function finish() {
  if (problems.length > 0) {
    for (const p of problems) console.error("FAIL " + p);
    process.exit(1);
  }
  process.exit(0);
}
