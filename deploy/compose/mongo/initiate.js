// Initiate rs0 with RS_MEMBERS (the first one preferred as primary) unless it already is.
const members = process.env.RS_MEMBERS.split(",").filter(Boolean);
let initiated = true;
try {
  rs.status();
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  initiated = false;
}
if (!initiated) {
  rs.initiate({
    _id: "rs0",
    members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })),
  });
  print(`rs0 initiated with ${members.join(", ")}`);
}
for (let i = 0; i < 120 && !db.hello().primary; i++) sleep(1000);
if (!db.hello().primary) throw new Error("rs0 has no primary after 120 s");
print(`rs0 primary: ${db.hello().primary}`);
