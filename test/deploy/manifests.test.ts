// stack.yml, trigger/k8s/ and ceph/: required fields, and that every cross-reference resolves
// (buckets, secrets, the push endpoint's service, port and path, the function's name, the object
// store), plus the sizing and timeout rules stack.yml's comments promise.
import { describe, expect, it } from "vitest";
import { CEPH, loadRepo, TRIGGER_K8S } from "./support/repo.js";
import { durationSeconds, exists, type K8sObject, loadYaml, quantity, read, rel, sourceFiles } from "./support/scan.js";

const repo = loadRepo();
const cm = repo.configMap;
const env = repo.env;

/** Measured (shared docs, face-engine.md): peak RSS of one process, wasm backend, up to SSD at 640 wide / tiny at 1280. */
const PEAK_MB_PER_WORKER = 450;
/** Typical peak (tiny detector, 640 wide: 264-338 MB). */
const TYPICAL_MB_PER_WORKER = 340;
/** The primary process, ffmpeg and the rest. */
const OVERHEAD_MB = 150;
const MB = 1e6;

const NAMESPACED = new Set([
  "ConfigMap",
  "Secret",
  "Deployment",
  "Service",
  "PodDisruptionBudget",
  "CephCluster",
  "CephBlockPool",
  "CephObjectStore",
  "CephObjectStoreUser",
  "ObjectBucketClaim",
  "CephBucketTopic",
  "CephBucketNotification",
]);

interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: Container[];
    volumes?: { name: string; emptyDir?: object }[];
    terminationGracePeriodSeconds?: number;
    securityContext?: { runAsNonRoot?: boolean };
  };
}
const spec = <T>(doc: K8sObject | undefined) => (doc?.spec ?? {}) as T;
const kustomization = loadYaml("trigger/k8s/kustomization.yaml")[0] as {
  resources?: string[];
  images?: { name: string }[];
};
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("every manifest", () => {
  it.each([...TRIGGER_K8S, ...CEPH])(
    "%s has apiVersion, kind and a name, and a namespace where one is needed",
    (file) => {
      const docs = repo.all.filter((d) => d.file === file);
      expect(docs.length).toBeGreaterThan(0);
      for (const doc of docs) {
        expect(doc.apiVersion, file).toMatch(/^[\w.]*\/?v\d/);
        expect(doc.kind, file).toBeTruthy();
        expect(doc.metadata?.name, `${file} ${doc.kind}`).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
        if (NAMESPACED.has(doc.kind as string)) expect(doc.metadata?.namespace, `${file} ${doc.kind}`).toBeTruthy();
      }
    },
  );

  it("puts the trigger's objects in its own namespace, which is declared", () => {
    const ns = repo.must("Namespace", "facerec").metadata?.name;
    for (const doc of repo.k8s.filter((d) => d.kind !== "Namespace"))
      expect(doc.metadata?.namespace, doc.kind).toBe(ns);
  });

  it("declares nothing twice (except the shared Namespace)", () => {
    const keys = repo.all
      .filter((d) => d.kind !== "Namespace")
      .map((d) => `${d.kind}/${d.metadata?.namespace ?? ""}/${d.metadata?.name}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it("applies with kustomize all but the Secret template", () => {
    const resources = kustomization.resources ?? [];
    for (const file of resources) expect(exists(`trigger/k8s/${file}`), file).toBe(true);
    expect(resources).not.toContain("secret.template.yaml");
    const expected = TRIGGER_K8S.map((f) => f.replace("trigger/k8s/", "")).filter((f) => f !== "secret.template.yaml");
    expect([...resources].sort()).toEqual([...expected].sort());
  });
});

describe("stack.yml", () => {
  it("declares the function as OpenFaaS expects", () => {
    expect(repo.stack.provider?.name).toBe("openfaas");
    expect(repo.stack.provider?.gateway).toMatch(/^https?:\/\//);
    expect(repo.functionName).toBe("face-recognition");
    expect(repo.fn.namespace ?? "openfaas-fn").toBe("openfaas-fn");
    // As faas-cli sees it with no variables set: ${VAR:-default} → default.
    const image = (repo.fn.image ?? "").replace(/\$\{\w+:-([^}]*)\}/g, "$1");
    expect(image).toMatch(/^[\w.:-]+(\/[\w.-]+)*\/face-recognition:[\w.-]+$/);
    expect(image, "a versioned tag, not latest").not.toMatch(/:latest$/);
    expect(repo.fn.readonly_root_filesystem).toBe(true);
  });

  it("is the name the function's code serves under", () => {
    const names = sourceFiles(["functions/face-recognition"]).flatMap((f) => [
      ...read(rel(f)).matchAll(/\bFUNCTION_NAME\s*=\s*"([^"]+)"/g),
    ]);
    expect(names.map((m) => m[1])).toContain(repo.functionName);
  });

  it("sizes memory from the measured peak per worker process", () => {
    const workers = Number(env.WORKERS);
    expect(workers).toBeGreaterThanOrEqual(1);
    const limit = quantity(repo.fn.limits?.memory ?? "0");
    const request = quantity(repo.fn.requests?.memory ?? "0");
    expect(limit).toBeGreaterThanOrEqual((workers * PEAK_MB_PER_WORKER + OVERHEAD_MB) * MB);
    expect(request).toBeGreaterThanOrEqual((workers * TYPICAL_MB_PER_WORKER + OVERHEAD_MB) * MB);
    expect(request).toBeLessThanOrEqual(limit);
  });

  it("gives each worker a core, and lets the watchdog admit one video per worker", () => {
    const workers = Number(env.WORKERS);
    expect(quantity(repo.fn.limits?.cpu ?? "0")).toBeGreaterThanOrEqual(workers);
    expect(quantity(repo.fn.requests?.cpu ?? "0")).toBeLessThanOrEqual(quantity(repo.fn.limits?.cpu ?? "0"));
    expect(Number(env.max_inflight)).toBe(workers);
  });

  it("keeps the timeouts in order: watchdog exec ≤ its read/write ≤ gateway upstream < trigger's invoke timeout", () => {
    const exec = durationSeconds(String(env.exec_timeout));
    expect(durationSeconds(String(env.read_timeout))).toBeGreaterThanOrEqual(exec);
    expect(durationSeconds(String(env.write_timeout))).toBeGreaterThanOrEqual(exec);
    const upstream = /gateway\.upstreamTimeout=(\S+)/.exec(repo.deploymentDoc)?.[1];
    expect(upstream, "docs/deployment.md gives gateway.upstreamTimeout").toBeDefined();
    expect(durationSeconds(upstream as string)).toBeGreaterThanOrEqual(exec);
    expect(repo.stackText, "stack.yml's comment names the same value").toContain(`gateway.upstreamTimeout=${upstream}`);
    for (const name of [
      "gateway.readTimeout",
      "gateway.writeTimeout",
      "faasnetes.readTimeout",
      "faasnetes.writeTimeout",
    ]) {
      const value = new RegExp(`${name.replace(".", "\\.")}=(\\S+)`).exec(repo.deploymentDoc)?.[1];
      expect(value, name).toBeDefined();
      expect(durationSeconds(value as string), name).toBeGreaterThan(durationSeconds(upstream as string));
    }
    expect(Number(cm.INVOKE_TIMEOUT_SECONDS)).toBeGreaterThan(durationSeconds(upstream as string));
  });

  it("stays within Community Edition's 5 replicas", () => {
    const labels = repo.fn.labels ?? {};
    for (const value of Object.values(labels)) expect(typeof value).toBe("string");
    const min = Number(labels["com.openfaas.scale.min"] ?? 1);
    const max = Number(labels["com.openfaas.scale.max"] ?? 5);
    expect(min).toBeGreaterThanOrEqual(1);
    expect(max).toBeLessThanOrEqual(5);
    expect(min).toBeLessThanOrEqual(max);
  });

  it("lets the trigger's calls fit the function's capacity", () => {
    const deployment = repo.must("Deployment", "facerec-trigger");
    const replicas = Number(spec<{ replicas: number }>(deployment).replicas);
    const perReplica = Number(env.max_inflight);
    const maxReplicas = Number(repo.fn.labels?.["com.openfaas.scale.max"] ?? 5);
    expect(replicas * Number(cm.INVOKE_CONCURRENCY)).toBeLessThanOrEqual(perReplica * maxReplicas);
  });
});

describe("the trigger's Kubernetes objects", () => {
  const deployment = repo.must("Deployment", "facerec-trigger", "facerec");
  const service = repo.must("Service", "facerec-trigger", "facerec");
  const d = spec<{ replicas: number; selector: { matchLabels: Record<string, string> }; template: PodTemplate }>(
    deployment,
  );
  const container = d.template.spec.containers[0] as Container;
  const port = Number(cm.TRIGGER_PORT);
  const namedPort = (name: string | number) =>
    typeof name === "number" ? name : container.ports?.find((p) => p.name === name)?.containerPort;

  it("runs 2 replicas whose pods the selector and the Service select", () => {
    expect(d.replicas).toBe(2);
    expect(matches(d.selector.matchLabels, d.template.metadata.labels)).toBe(true);
    const selector = spec<{ selector: Record<string, string> }>(service).selector;
    expect(matches(selector, d.template.metadata.labels)).toBe(true);
    const pdb = repo.must("PodDisruptionBudget", "facerec-trigger", "facerec");
    const pdbSpec = spec<{ minAvailable: number; selector: { matchLabels: Record<string, string> } }>(pdb);
    expect(matches(pdbSpec.selector.matchLabels, d.template.metadata.labels)).toBe(true);
    expect(pdbSpec.minAvailable).toBeLessThan(d.replicas);
  });

  it("listens where the Service, the probes and Prometheus look", () => {
    expect(cm.TRIGGER_HOST, "reachable from outside the pod").toBe("0.0.0.0");
    expect(namedPort("http")).toBe(port);
    const ports = spec<{ ports: { port: number; targetPort: string | number }[] }>(service).ports;
    expect(ports.map((p) => namedPort(p.targetPort))).toEqual([port]);
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe?.httpGet?.path).toBe("/healthz");
      expect(namedPort(probe?.httpGet?.port ?? "")).toBe(port);
    }
    const annotations = d.template.metadata.annotations ?? {};
    expect(annotations["prometheus.io/scrape"]).toBe("true");
    expect(Number(annotations["prometheus.io/port"])).toBe(port);
    expect(annotations["prometheus.io/path"]).toBe("/metrics");
  });

  it("serves the paths the manifests use", () => {
    const server = sourceFiles(["trigger"])
      .map((f) => read(rel(f)))
      .join("\n");
    for (const path of ["/healthz", "/metrics", new URL(cm.NOTIFY_ENDPOINT as string).pathname]) {
      expect(server, path).toContain(`"${path}"`);
    }
  });

  it("runs the daemon from the image, read-only, as non-root, with a writable /tmp", () => {
    expect(container.args).toEqual(["run"]);
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(d.template.spec.securityContext?.runAsNonRoot).toBe(true);
    const tmp = container.volumeMounts?.find((m) => m.mountPath === "/tmp");
    expect(d.template.spec.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  });

  it("gives a stopping replica the time its shutdown takes", () => {
    expect(d.template.spec.terminationGracePeriodSeconds ?? 30).toBeGreaterThan(Number(cm.SHUTDOWN_TIMEOUT_SECONDS));
  });

  it("uses the image kustomization.yaml sets", () => {
    const images = kustomization.images ?? [];
    const repository = container.image.replace(/:[^:/]+$/, "");
    expect(images.map((i) => i.name)).toContain(repository);
  });

  it("calls the function through the gateway's in-cluster service", () => {
    const url = new URL(cm.OPENFAAS_URL as string);
    expect(url.hostname).toMatch(/^gateway\.openfaas(\.svc(\.cluster\.local)?)?$/);
    expect(url.port).toBe("8080");
    expect(cm.FUNCTION_NAME).toBe(repo.functionName);
  });

  it("has only placeholders in the Secret template", () => {
    const secret = repo.must("Secret", "facerec-trigger", "facerec");
    for (const [key, value] of Object.entries(secret.stringData ?? {})) {
      expect(String(value), key).toMatch(/^(REPLACE_WITH_[A-Z0-9_]+)?$/);
    }
    expect(secret.data, "stringData only: nothing encoded to hide").toBeUndefined();
  });
});

describe("Rook: the cluster, the object store, the buckets and the push to the trigger", () => {
  const store = repo.must("CephObjectStore");
  const storeName = store.metadata?.name as string;
  const storeNs = store.metadata?.namespace as string;
  const gatewayPort = spec<{ gateway: { port: number } }>(store).gateway.port;
  const claims = repo.all.filter((d) => d.kind === "ObjectBucketClaim");
  const claimFor = (bucket: string) => claims.find((c) => spec<{ bucketName: string }>(c).bucketName === bucket);
  const user = repo.must("CephObjectStoreUser");
  const topic = repo.must("CephBucketTopic");
  const notification = repo.must("CephBucketNotification");

  it("runs the object store in the CephCluster's namespace", () => {
    const cluster = repo.must("CephCluster");
    expect(storeNs).toBe(cluster.metadata?.namespace);
    expect(spec<{ mon: { count: number } }>(cluster).mon.count).toBeGreaterThanOrEqual(1);
  });

  it("is the S3 endpoint the function and the trigger use", () => {
    for (const value of [env.S3_ENDPOINT, cm.S3_ENDPOINT]) {
      const url = new URL(String(value));
      expect(url.hostname).toMatch(new RegExp(`^rook-ceph-rgw-${storeName}\\.${storeNs}\\.svc(\\.cluster\\.local)?$`));
      expect(Number(url.port || 80)).toBe(gatewayPort);
    }
  });

  it("has an S3 user in the store, whose key Secret the docs name", () => {
    expect(spec<{ store: string }>(user).store).toBe(storeName);
    expect(user.metadata?.namespace).toBe(storeNs);
    expect(repo.deploymentDoc).toContain(`rook-ceph-object-user-${storeName}-${user.metadata?.name}`);
  });

  it("claims the input and output buckets the settings name, and lets the user use them", () => {
    for (const bucket of [env.INPUT_BUCKET, env.OUTPUT_BUCKET] as string[]) {
      const claim = claimFor(bucket);
      expect(claim, `an ObjectBucketClaim with bucketName ${bucket}`).toBeDefined();
      const claimSpec = spec<{ storageClassName: string; additionalConfig?: { bucketPolicy?: string } }>(claim);
      const sc = repo.must("StorageClass", claimSpec.storageClassName);
      const params = (sc as { parameters?: Record<string, string> }).parameters ?? {};
      expect((sc as { provisioner?: string }).provisioner).toBe(`${storeNs}.ceph.rook.io/bucket`);
      expect(params.objectStoreName).toBe(storeName);
      expect(params.objectStoreNamespace).toBe(storeNs);
      const policy = JSON.parse(claimSpec.additionalConfig?.bucketPolicy ?? "{}") as {
        Statement: { Effect: string; Principal: { AWS: string[] }; Action: string[]; Resource: string[] }[];
      };
      const statement = policy.Statement.find((s) =>
        s.Principal.AWS.includes(`arn:aws:iam:::user/${user.metadata?.name}`),
      );
      expect(statement?.Effect).toBe("Allow");
      expect(statement?.Resource).toEqual(
        expect.arrayContaining([`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`]),
      );
      expect(statement?.Action).toEqual(expect.arrayContaining(["s3:GetObject", "s3:PutObject", "s3:ListBucket"]));
    }
  });

  it("attaches the notification to the input bucket's claim, in one namespace with its topic", () => {
    const input = claimFor(env.INPUT_BUCKET as string) as K8sObject;
    const name = notification.metadata?.name as string;
    expect(input.metadata?.labels?.[`bucket-notification-${name}`]).toBe(name);
    expect(notification.metadata?.namespace).toBe(input.metadata?.namespace);
    expect(topic.metadata?.namespace).toBe(input.metadata?.namespace);
    expect(spec<{ topic: string }>(notification).topic).toBe(topic.metadata?.name);
    const t = spec<{ objectStoreName: string; objectStoreNamespace: string }>(topic);
    expect([t.objectStoreName, t.objectStoreNamespace]).toEqual([storeName, storeNs]);
  });

  it("pushes .mp4 creations, persistently, to the trigger's Service", () => {
    const t = spec<{ persistent: boolean; endpoint: { http: { uri: string } } }>(topic);
    expect(t.persistent).toBe(true);
    const uri = new URL(t.endpoint.http.uri);
    const [svc, ns] = uri.hostname.split(".");
    const service = repo.must("Service", svc, ns);
    const ports = spec<{ ports: { port: number }[] }>(service).ports.map((p) => p.port);
    expect(ports).toContain(Number(uri.port || 80));
    const n = spec<{ events: string[]; filter: { keyFilters: { name: string; value: string }[] } }>(notification);
    expect(n.filter.keyFilters).toContainEqual({ name: "suffix", value: cm.INPUT_SUFFIX ?? ".mp4" });
    expect(n.events).toEqual(
      expect.arrayContaining(["s3:ObjectCreated:Put", "s3:ObjectCreated:CompleteMultipartUpload"]),
    );
  });

  it("agrees with the trigger's own notification settings", () => {
    const t = spec<{ persistent: boolean; endpoint: { http: { uri: string } } }>(topic);
    // The topic's URI is the trigger's endpoint plus the notify token Ceph must present.
    const uri = new URL(t.endpoint.http.uri);
    expect(uri.searchParams.get("token")).toBeTruthy();
    uri.search = "";
    expect(cm.NOTIFY_ENDPOINT).toBe(uri.toString());
    expect(cm.NOTIFY_TOPIC).toBe(topic.metadata?.name);
    expect(cm.NOTIFY_ID).toBe(notification.metadata?.name);
    expect(cm.NOTIFY_PERSISTENT).toBe(String(t.persistent));
  });

  it("exposes the RGW pods of the store on a NodePort", () => {
    const external = repo.must("Service", "rook-ceph-rgw-facerec-store-external", storeNs);
    const s = spec<{ type: string; selector: Record<string, string>; ports: { port: number; targetPort: number }[] }>(
      external,
    );
    expect(s.type).toBe("NodePort");
    expect(s.selector).toEqual({ app: "rook-ceph-rgw", rook_object_store: storeName });
    expect(s.ports[0]?.port).toBe(gatewayPort);
    // Rook's RGW containers listen on 8080 behind the store's port 80.
    expect(s.ports[0]?.targetPort).toBe(8080);
  });

  it("has a toolbox of the cluster's Ceph version, configured from Rook's mon Secret and ConfigMap", () => {
    const cluster = repo.must("CephCluster");
    const toolbox = repo.must("Deployment", "rook-ceph-tools", storeNs);
    const pod = spec<{ template: PodTemplate }>(toolbox).template.spec;
    expect(pod.containers[0]?.image).toBe(spec<{ cephVersion: { image: string } }>(cluster).cephVersion.image);
    expect(JSON.stringify(toolbox)).toContain("rook-ceph-mon-endpoints");
  });
});

describe("docs/deployment.md", () => {
  const doc = repo.deploymentDoc;

  it("creates every secret stack.yml lists, then deploys and invokes the function", () => {
    for (const secret of repo.fn.secrets ?? []) expect(doc).toContain(`faas-cli secret create ${secret}`);
    expect(doc).toContain("faas-cli up -f stack.yml");
    expect(doc).toContain(`faas-cli invoke ${repo.functionName}`);
    expect(doc).toMatch(/\{"bucket":"input","key":"test_0\.mp4"\}/);
  });

  it("loads the students and makes the gallery with the CLI's commands", () => {
    expect(doc).toMatch(/npm run facerec -- students load \S+ --table students/);
    expect(doc).toMatch(/npm run facerec -- gallery import encoding\.pickle --out \S*gallery\.json/);
    expect(doc).toMatch(/npm run facerec -- enroll <people-dir> --out \S*gallery\.json/);
    expect(doc).toContain(repo.functionShipEnv.GALLERY as string);
  });

  it("applies every manifest", () => {
    for (const file of CEPH) expect(doc).toContain(`kubectl apply -f ${file}`);
    expect(doc).toContain("kubectl apply -k trigger/k8s");
  });

  it("builds both images from the repository root", () => {
    expect(doc).toContain("-f functions/face-recognition/Dockerfile");
    expect(doc).toContain("-f trigger/Dockerfile");
  });
});
