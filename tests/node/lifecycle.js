// The secret lifecycle with node-vault: enable a KV v2 mount, write, read, update with
// check-and-set, list, soft delete, undelete, destroy. Prints one JSON object of results;
// any unexpected failure exits non-zero with the error.
const vault = require("node-vault")({
  apiVersion: "v1",
  endpoint: process.env.COFFER_TEST_ADDR,
  token: process.env.COFFER_TEST_TOKEN,
});

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    return e.response ? e.response.statusCode : String(e);
  }
}

async function main() {
  const out = {};
  await vault.mount({ mount_point: "secret1", type: "kv", options: { version: "2" } });
  out.mounts = Object.keys((await vault.mounts()).data);
  out.created = (await vault.write("secret1/data/demo", { data: { user: "alice", pass: "one" } })).data;
  out.first = (await vault.read("secret1/data/demo")).data;
  out.updated = (await vault.write("secret1/data/demo", { data: { user: "alice", pass: "two" }, options: { cas: 1 } })).data;
  out.stale = await status(vault.write("secret1/data/demo", { data: { pass: "x" }, options: { cas: 1 } }));
  out.second = (await vault.read("secret1/data/demo")).data;
  out.list = (await vault.list("secret1/metadata")).data;
  await vault.delete("secret1/data/demo");
  out.afterDelete = await status(vault.read("secret1/data/demo"));
  await vault.write("secret1/undelete/demo", { versions: [2] });
  out.undeleted = (await vault.read("secret1/data/demo")).data;
  await vault.write("secret1/destroy/demo", { versions: [1] });
  out.metadata = (await vault.read("secret1/metadata/demo")).data;
  out.missing = await status(vault.read("secret1/data/nothing"));
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
