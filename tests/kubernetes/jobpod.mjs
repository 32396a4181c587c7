// jobpod.mjs RENDERED.yaml ROOT OUT: lay out the pod of the one CronJob of
// RENDERED.yaml under ROOT, to run its containers' commands outside
// Kubernetes (t_kubernetes_ticket_rotation.sh).
//
// Each volume becomes a directory under ROOT at its mount path (another
// mount of the same volume, a symlink to it); ConfigMap volumes get the
// rendered ConfigMap's files.  OUT/N-NAME.argv is the command of the Nth
// container (init containers first, N from 1), NUL-separated, every path
// under a mount path moved under ROOT (also after "--option=").  Prints
// one line per Secret volume mount: "secret MOUNTPATH SECRET_NAME".
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseAllDocuments } from "yaml";

const [file, root, out] = process.argv.slice(2);
const docs = parseAllDocuments(readFileSync(file, "utf8"))
  .map((d) => d.toJS())
  .filter((o) => o !== null);
const cronjobs = docs.filter((o) => o.kind === "CronJob");
if (cronjobs.length !== 1) {
  console.error(`jobpod: expected one CronJob in ${file}, found ${cronjobs.length}`);
  process.exit(1);
}
const pod = cronjobs[0].spec.jobTemplate.spec.template.spec;
const volumes = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));
const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
const mountPaths = containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.mountPath));

const placed = {};
for (const c of containers) {
  for (const m of c.volumeMounts ?? []) {
    const at = root + m.mountPath;
    if (placed[m.name]) {
      if (placed[m.name] !== at) {
        mkdirSync(dirname(at), { recursive: true });
        symlinkSync(placed[m.name], at);
      }
      continue;
    }
    placed[m.name] = at;
    mkdirSync(at, { recursive: true });
    const v = volumes[m.name] ?? {};
    if (v.configMap) {
      const cm = docs.find((o) => o.kind === "ConfigMap" && o.metadata.name === v.configMap.name);
      for (const [k, data] of Object.entries(cm?.data ?? {})) writeFileSync(`${at}/${k}`, data);
    }
    if (v.secret) console.log(`secret ${m.mountPath} ${v.secret.secretName}`);
  }
}

const move = (a) => {
  const eq = a.startsWith("-") ? a.indexOf("=") + 1 : 0;
  const path = a.slice(eq);
  return path.startsWith("/") && mountPaths.some((p) => path.startsWith(p.replace(/\/?$/, "/")))
    ? a.slice(0, eq) + root + path
    : a;
};
containers.forEach((c, i) => {
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map(move);
  writeFileSync(`${out}/${i + 1}-${c.name}.argv`, argv.map((a) => a + "\0").join(""));
});
