// One user per service: readWrite on motcua_<service> and nothing else (DESIGN: each service owns
// its database). Passwords come from /run/secrets/mongo_<service>_password (gen-secrets.sh).
const fs = require("fs");
const admin = db.getSiblingDB("admin");
for (const service of process.env.SERVICES.split(" ").filter(Boolean)) {
  const user = `motcua_${service}`;
  const pwd = fs.readFileSync(`/run/secrets/mongo_${service}_password`, "utf8").trim();
  const roles = [{ role: "readWrite", db: `motcua_${service}` }];
  if (admin.getUser(user)) admin.updateUser(user, { pwd, roles });
  else admin.createUser({ user, pwd, roles });
  print(`user ${user} ready`);
}
