// Chains and attempts: submit, read, list, and the scheduler's guarded decisions.
#include <algorithm>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/lifecycle/attempt_writer.h"
#include "common/model/sql_sets.h"
#include "common/model/states.h"
#include "common/pg.h"
#include "scheduler/store/row_mapping.h"
#include "scheduler/store/store.h"

namespace hai::store {
namespace {

std::string ToJson(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }
std::string ToJson(const std::map<std::string, std::string>& m) { return nlohmann::json(m).dump(); }

// Chains per group-commit statement: large enough to absorb any burst a 2-core Postgres can
// take, small enough that one statement stays a few milliseconds.
constexpr int kMaxChainsPerStatement = 256;

// The `submitted` event's detail.
std::string SubmittedDetail(const NewChain& c) {
  return nlohmann::json{{"priority", c.priority}, {"nodes", c.nodes}, {"group", c.group}}.dump();
}

absl::Status NameTaken(const NewChain& c) {
  return absl::AlreadyExistsError(absl::StrCat("you already have an open task named '", c.name,
                                               "'; stop it first or choose another --name"));
}

// A Postgres array literal of strings: every element double-quoted, with " and \ escaped
// (so commas, braces, quotes and JSON text survive).
std::string TextArray(const std::vector<std::string>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char ch : v[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

// Prepared statements of the submit path (registered on the pool in the constructor).
constexpr char kSubmitStatement[] = "hai_submit";
constexpr char kSubmitBatchStatement[] = "hai_submit_batch";
std::string SubmitSql() {
  return absl::StrCat(
      "WITH c AS (INSERT INTO chains (name, user_name, kind, node_group, priority, nodes,"
      " gpus_per_node, entrypoint, args, workdir, env, image, environment, "
      "whole_life_state, time_limit_s) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10,"
      "$11::jsonb,$12,$13,$14,NULLIF($17::bigint, 0)::integer) RETURNING *), "
      "a AS (INSERT INTO attempts (chain_id, attempt_no, state, tier) "
      "SELECT chain_id, 0, 'queued', $15 FROM c RETURNING *), "
      "e AS (INSERT INTO task_events (chain_id, attempt_id, kind, actor, detail) "
      "SELECT chain_id, attempt_id, 'submitted', $2, $16::jsonb FROM a) "
      "SELECT ",
      kAttemptColumns, ", ", kChainColumns, " FROM c JOIN a ON true");
}
std::string SubmitBatchSql() {
  return absl::StrCat(
      "WITH i AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
      "$5::int[], $6::int[], $7::int[], $8::text[], $9::jsonb[], $10::text[], "
      "$11::jsonb[], $12::text[], $13::text[], $14::int[], $15::int[], $16::jsonb[], "
      "$17::bigint[]) "
      "AS u(name, user_name, kind, node_group, priority, nodes, gpus_per_node, "
      "entrypoint, args, workdir, env, image, environment, whole_life_state, tier, "
      "detail, time_limit_s)), "
      "c AS (INSERT INTO chains (name, user_name, kind, node_group, priority, nodes, "
      "gpus_per_node, entrypoint, args, workdir, env, image, environment, "
      "whole_life_state, time_limit_s) SELECT name, user_name, kind, node_group, priority, "
      "nodes, gpus_per_node, entrypoint, args, workdir, env, image, environment, "
      "whole_life_state, NULLIF(time_limit_s, 0)::integer FROM i "
      "ON CONFLICT (user_name, name) WHERE final_state IS NULL DO NOTHING RETURNING *), "
      "a AS (INSERT INTO attempts (chain_id, attempt_no, state, tier) "
      "SELECT c.chain_id, 0, 'queued', i.tier FROM c JOIN i USING (user_name, name) "
      "RETURNING *), "
      "e AS (INSERT INTO task_events (chain_id, attempt_id, kind, actor, detail) "
      "SELECT a.chain_id, a.attempt_id, 'submitted', c.user_name, i.detail "
      "FROM a JOIN c ON c.chain_id = a.chain_id JOIN i USING (user_name, name)) "
      "SELECT ",
      kAttemptColumns, ", ", kChainColumns, " FROM c JOIN a ON a.chain_id = c.chain_id");
}

// "SELECT <chain columns> FROM chains c " + a WHERE/ORDER clause over alias c.
std::string ChainQuery(const std::string& where_order) {
  return absl::StrCat("SELECT ", kChainColumns, " FROM chains c ", where_order);
}

// Builds chains from `chains` rows, attaching all or only the current attempts.
std::vector<Chain> ReadChains(pqxx::transaction_base& tx, const pqxx::result& chains,
                              bool all_attempts) {
  std::vector<Chain> out;
  out.reserve(chains.size());
  std::map<int64_t, size_t> index;
  std::vector<int64_t> ids;
  for (const auto& r : chains) {
    Chain c;
    c.row = ChainFromRow(r);
    index[c.row.chain_id] = out.size();
    ids.push_back(c.row.chain_id);
    out.push_back(std::move(c));
  }
  if (ids.empty()) return out;
  std::string attempts_sql =
      all_attempts ? absl::StrCat("SELECT ", kAttemptColumns,
                                  " FROM attempts a WHERE a.chain_id = ANY($1::bigint[]) "
                                  "ORDER BY a.chain_id, a.attempt_no")
                   : absl::StrCat("SELECT DISTINCT ON (a.chain_id) ", kAttemptColumns,
                                  " FROM attempts a WHERE a.chain_id = ANY($1::bigint[]) "
                                  "ORDER BY a.chain_id, a.attempt_no DESC");
  for (const auto& r : tx.exec_params(attempts_sql, ArrayLiteral(ids))) {
    AttemptRow a = AttemptFromRow(r);
    out[index[a.chain_id]].attempts.push_back(std::move(a));
  }
  std::vector<AttemptRow*> all;
  for (Chain& c : out) {
    for (AttemptRow& a : c.attempts) all.push_back(&a);
  }
  AttachPods(tx, all);
  return out;
}

}  // namespace

absl::StatusOr<Chain> Store::CreateChainAlone(const NewChain& c, int initial_tier) {
  // One statement (chain, first attempt, submitted event) sent without BEGIN/COMMIT: a
  // single statement is atomic on its own, and submit is the hottest write (one round trip;
  // bench/live/submit_load.cc). It returns the rows as GetChain would read them.
  Chain out;
  absl::Status s = pool_->Statement("submit", [&](pqxx::nontransaction& tx) -> absl::Status {
    auto r = tx.exec_prepared1(
        kSubmitStatement, c.name, c.user, std::string(model::Name(c.kind)), c.group, c.priority,
        c.nodes, c.gpus_per_node, c.entrypoint, ToJson(c.args), c.workdir, ToJson(c.env), c.image,
        c.environment, c.whole_life_state, initial_tier, SubmittedDetail(c), c.time_limit_s);
    out.row = ChainFromRow(r);
    out.attempts.push_back(AttemptFromRow(r));
    return absl::OkStatus();
  });
  if (s.code() == absl::StatusCode::kAlreadyExists) return NameTaken(c);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<absl::StatusOr<Chain>>> Store::CreateChainBatch(
    const std::vector<ChainRequest>& requests) {
  // The same three inserts as CreateChainAlone over unnest()ed arrays, one element per
  // request. A name already open is skipped (ON CONFLICT DO NOTHING on the partial unique
  // index) and reported AlreadyExists; the batcher never puts one user's name in twice.
  std::vector<std::string> name, user, kind, group, entrypoint, args, workdir, env, image,
      environment, detail;
  std::vector<int> priority, nodes, gpus, wls, tier;
  std::vector<int64_t> time_limit;
  for (const ChainRequest& r : requests) {
    const NewChain& c = *r.chain;
    name.push_back(c.name);
    user.push_back(c.user);
    kind.push_back(std::string(model::Name(c.kind)));
    group.push_back(c.group);
    priority.push_back(c.priority);
    nodes.push_back(c.nodes);
    gpus.push_back(c.gpus_per_node);
    entrypoint.push_back(c.entrypoint);
    args.push_back(ToJson(c.args));
    workdir.push_back(c.workdir);
    env.push_back(ToJson(c.env));
    image.push_back(c.image);
    environment.push_back(c.environment);
    wls.push_back(c.whole_life_state);
    tier.push_back(r.tier);
    detail.push_back(SubmittedDetail(c));
    time_limit.push_back(c.time_limit_s);
  }
  std::map<std::pair<std::string, std::string>, Chain> made;
  absl::Status s = pool_->Statement("submit batch", [&](pqxx::nontransaction& tx) {
    auto rows = tx.exec_prepared(kSubmitBatchStatement, TextArray(name), TextArray(user),
                                 TextArray(kind), TextArray(group), ArrayLiteral(priority),
                                 ArrayLiteral(nodes), ArrayLiteral(gpus), TextArray(entrypoint),
                                 TextArray(args), TextArray(workdir), TextArray(env),
                                 TextArray(image), TextArray(environment), ArrayLiteral(wls),
                                 ArrayLiteral(tier), TextArray(detail), ArrayLiteral(time_limit));
    if (rows.empty()) return absl::OkStatus();
    const ChainColumns chain_columns(rows[0]);  // resolved once, not per row
    const AttemptColumns attempt_columns(rows[0]);
    for (const auto& r : rows) {
      Chain c;
      c.row = ChainFromRow(r, chain_columns);
      c.attempts.push_back(AttemptFromRow(r, attempt_columns));
      auto key = std::make_pair(c.row.user, c.row.name);
      made[key] = std::move(c);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  std::vector<absl::StatusOr<Chain>> out;
  out.reserve(requests.size());
  for (const ChainRequest& r : requests) {
    auto it = made.find({r.chain->user, r.chain->name});
    if (it == made.end()) {
      out.push_back(NameTaken(*r.chain));
    } else {
      out.push_back(std::move(it->second));
    }
  }
  return out;
}

Store::Store(std::unique_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {
  pool_->Prepare(kSubmitStatement, SubmitSql());
  pool_->Prepare(kSubmitBatchStatement, SubmitBatchSql());
  pool_->Prepare(kAuthenticateStatement, AuthenticateSql());
  PrepareOpenAttemptStatements(*pool_);
  // Two statements in flight keep both of this machine's cores busy; more would only take
  // connections from the loop and the readers.
  const int in_flight = std::max(1, std::min(2, pool_->size() / 2));
  submits_ = std::make_unique<SubmitBatcher>(
      [this](const ChainRequest& r) { return CreateChainAlone(*r.chain, r.tier); },
      [this](const std::vector<ChainRequest>& r) { return CreateChainBatch(r); },
      kMaxChainsPerStatement, in_flight);
}

Store::~Store() = default;

absl::StatusOr<Chain> Store::CreateChain(const NewChain& c, int initial_tier) {
  return submits_->Create(c, initial_tier);
}

int64_t Store::chain_statements() const { return submits_->statements(); }
int64_t Store::chains_created() const { return submits_->chains(); }

absl::StatusOr<Chain> Store::GetChain(int64_t chain_id) {
  std::vector<Chain> chains;
  absl::Status s = pool_->Read("get task", [&](pqxx::read_transaction& tx) {
    chains = ReadChains(tx, tx.exec_params(ChainQuery("WHERE c.chain_id = $1"), chain_id), true);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (chains.empty()) return absl::NotFoundError(absl::StrCat("no task with id ", chain_id));
  return std::move(chains.front());
}

absl::StatusOr<int64_t> Store::FindChainByName(const std::string& user, const std::string& name) {
  int64_t id = 0;
  absl::Status s = pool_->Read("find task", [&](pqxx::read_transaction& tx) {
    auto r = tx.exec_params(
        "SELECT chain_id FROM chains WHERE user_name = $1 AND name = $2 "
        "ORDER BY (final_state IS NULL) DESC, chain_id DESC LIMIT 1",
        user, name);
    if (!r.empty()) id = r[0][0].as<int64_t>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (id == 0) return absl::NotFoundError(absl::StrCat("you have no task named '", name, "'"));
  return id;
}

absl::StatusOr<int64_t> Store::CountOpenChains(const std::string& user, int64_t up_to) {
  int64_t n = 0;
  absl::Status s = pool_->Read("count open tasks", [&](pqxx::read_transaction& tx) {
    // LIMIT bounds the cost by the cap, not by what a user has queued; chains_open_name
    // (user_name, name) WHERE final_state IS NULL serves it.
    n = tx.exec_params1(
              "SELECT count(*) FROM (SELECT 1 FROM chains WHERE user_name = $1 "
              "AND final_state IS NULL LIMIT $2) open",
              user, up_to)[0]
            .as<int64_t>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return n;
}

absl::StatusOr<std::vector<Chain>> Store::ListChains(const std::string& user, bool include_finished,
                                                     int limit) {
  std::vector<Chain> chains;
  absl::Status s = pool_->Read("list tasks", [&](pqxx::read_transaction& tx) {
    std::string where = "WHERE ($1 = '' OR c.user_name = $1)";
    if (!include_finished) where += " AND c.final_state IS NULL";
    chains = ReadChains(
        tx, tx.exec_params(ChainQuery(where + " ORDER BY c.chain_id DESC LIMIT $2"), user, limit),
        false);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return chains;
}

absl::StatusOr<std::vector<OpenAttempt>> Store::LoadOpenAttempts() {
  std::vector<OpenAttempt> out;
  absl::Status s = pool_->Read("load open attempts", [&](pqxx::read_transaction& tx) {
    auto rows = tx.exec(absl::StrCat("SELECT ", kAttemptColumns, ", ", kChainColumns,
                                     " FROM attempts a JOIN chains c USING (chain_id) "
                                     "WHERE a.state IN ",
                                     model::OpenAttemptStatesSql(), " ORDER BY a.attempt_id"));
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back({AttemptFromRow(r), ChainFromRow(r)});
    std::vector<AttemptRow*> holding;
    for (OpenAttempt& o : out) {
      if (model::HoldsNodes(o.attempt.state)) holding.push_back(&o.attempt);
    }
    AttachPods(tx, holding);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status Store::ScheduleAttempt(int64_t attempt_id, int tier,
                                    const std::vector<policy::RankPlacement>& placement) {
  return FencedWrite("schedule", [&](pqxx::work& tx) -> absl::Status {
    pg::LockChainOfAttempt(tx, attempt_id);
    auto r = tx.exec_params(
        "UPDATE attempts SET state = 'scheduled', tier = $2, scheduled_at = clock_timestamp() "
        "WHERE attempt_id = $1 AND state = 'queued' RETURNING chain_id",
        attempt_id, tier);
    if (r.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("attempt ", attempt_id, " is no longer queued"));
    }
    nlohmann::json nodes = nlohmann::json::array();
    for (size_t rank = 0; rank < placement.size(); ++rank) {
      tx.exec_params(
          "INSERT INTO pods (attempt_id, rank, node, gpus) VALUES ($1, $2, $3, $4::int[])",
          attempt_id, static_cast<int>(rank), placement[rank].node,
          ArrayLiteral(placement[rank].gpus));
      nodes.push_back({{"node", placement[rank].node}, {"gpus", placement[rank].gpus}});
    }
    nlohmann::json detail{{"tier", tier}, {"placement", nodes}};
    // The leader that placed it (docs/deploy.md: which replica did what after a fail-over).
    if (const int64_t epoch = fence_epoch_.load(); epoch != kUnfenced) detail["epoch"] = epoch;
    AddEvent(tx, r[0][0].as<int64_t>(), attempt_id, "scheduled", "scheduler", detail);
    return absl::OkStatus();
  });
}

absl::Status Store::RequestSuspend(int64_t attempt_id, int64_t preemptor_chain_id,
                                   const std::string& reason, const std::string& actor) {
  return FencedWrite("request suspend", [&](pqxx::work& tx) -> absl::Status {
    pg::LockChainOfAttempt(tx, attempt_id);
    auto r = tx.exec_params(
        "UPDATE attempts SET suspend_requested_at = coalesce(suspend_requested_at, "
        "clock_timestamp()), suspend_reason = $3, preemptor_chain_id = NULLIF($2, 0) "
        "WHERE attempt_id = $1 AND state IN " +
            model::HoldingAttemptStatesSql() + " RETURNING chain_id",
        attempt_id, preemptor_chain_id, reason);
    if (r.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("attempt ", attempt_id, " is not running"));
    }
    const int64_t victim_chain = r[0][0].as<int64_t>();
    AddEvent(tx, victim_chain, attempt_id, "suspend_requested", actor,
             nlohmann::json{{"reason", reason}, {"preemptor_chain_id", preemptor_chain_id}});
    // The preemptor's history names each of its victims, so either side explains itself.
    if (preemptor_chain_id != 0) {
      AddEvent(tx, preemptor_chain_id, 0, "preempting", actor,
               nlohmann::json{{"victim_chain_id", victim_chain},
                              {"victim_attempt_id", attempt_id},
                              {"reason", reason}});
    }
    return absl::OkStatus();
  });
}

absl::Status Store::SetAttemptTier(int64_t attempt_id, int from_tier, int to_tier,
                                   const std::string& why) {
  return FencedWrite("set tier", [&](pqxx::work& tx) -> absl::Status {
    pg::LockChainOfAttempt(tx, attempt_id);
    auto r = tx.exec_params(
        "UPDATE attempts SET tier = $3 WHERE attempt_id = $1 AND tier = $2 "
        "AND state IN " +
            model::OpenAttemptStatesSql() + " RETURNING chain_id",
        attempt_id, from_tier, to_tier);
    if (r.empty()) return absl::FailedPreconditionError("attempt changed meanwhile");
    AddEvent(tx, r[0][0].as<int64_t>(), attempt_id, "tier_changed", "scheduler",
             nlohmann::json{{"from", from_tier}, {"to", to_tier}, {"why", why}});
    return absl::OkStatus();
  });
}

absl::Status Store::FailAttempt(int64_t attempt_id, const std::string& reason,
                                const std::vector<std::string>& cordon,
                                const std::string& cordon_reason) {
  return FencedWrite("fail attempt", [&](pqxx::work& tx) -> absl::Status {
    // haid ended the ranks it could (rank_reaper.h), but nobody recorded how they ended, so
    // their pods end `lost`.
    auto ended = lifecycle::EndAttempt(tx, attempt_id,
                                       {.state = model::AttemptState::kFailed,
                                        .reason = reason,
                                        .actor = "haid",
                                        .live_pods_become = model::PodState::kLost});
    if (!ended.ok()) return ended.status();
    // Nodes where a rank may still run are not handed out: cordoned in this transaction,
    // so no read sees the attempt's GPUs free while the node is still ready.
    if (!cordon.empty()) {
      tx.exec_params(
          "UPDATE hosts SET state = 'cordoned', state_reason = $2 "
          "WHERE node = ANY($1::text[]) AND state = 'ready'",
          TextArray(cordon), cordon_reason.substr(0, 500));
    }
    return absl::OkStatus();
  });
}

}  // namespace hai::store
