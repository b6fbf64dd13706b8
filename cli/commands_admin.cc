// `hai-cli admin ...`: users and tokens, quotas, node states, config check. The server checks
// the admin role; a non-admin gets exit code 3.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/format.h"
#include "cli/render.h"
#include "common/status_macros.h"

namespace hai::cli {
namespace {

// One unary admin call: connect, call, print JSON or the text `render` makes.
template <typename Request, typename Response, typename Rpc, typename Render>
absl::StatusOr<int> Call(const GlobalOptions& globals, const Request& request, Rpc rpc,
                         Render render) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connect(globals));
  Response response;
  const auto ctx = conn->NewContext();
  RETURN_IF_ERROR(conn->Check((conn->admin().*rpc)(ctx.get(), request, &response)));
  if (globals.json) {
    PrintJson(response);
  } else {
    std::cout << render(response);
  }
  return kExitOk;
}

using Stub = hai::v1::AdminService::Stub;

std::string UsersTable(const google::protobuf::RepeatedPtrField<hai::v1::AdminUser>& users) {
  Table t({"USER", "UID", "ROLE", "ACTIVE", "GROUPS"});
  for (const auto& u : users) {
    t.AddRow({u.name(), absl::StrCat(u.uid()), u.role(), u.active() ? "yes" : "no",
              u.groups().empty() ? "-" : absl::StrJoin(u.groups(), ",")});
  }
  return t.Render();
}

struct UserArgs {
  std::string name;
  std::string role = "internal";
  std::vector<std::string> groups;
  bool stop_tasks = false;
};

struct QuotaArgs {
  std::string owner;  // user:NAME | group:NAME | public
  std::string resource;
  int64_t nodes = 0;
  double expire_in_hours = 0;
};

struct NodeArgs {
  std::string name;
  std::string group;
  int gpus = 0;
  std::string room;
  std::string sw;
  std::string reason;
};

// "user:alice" -> (user, alice); "public" -> (public, public).
absl::StatusOr<std::pair<std::string, std::string>> ParseOwner(const std::string& owner) {
  if (owner == "public") return std::make_pair(std::string("public"), std::string("public"));
  const size_t colon = owner.find(':');
  if (colon != std::string::npos) {
    const std::string kind = owner.substr(0, colon);
    if ((kind == "user" || kind == "group") && colon + 1 < owner.size()) {
      return std::make_pair(kind, owner.substr(colon + 1));
    }
  }
  return UsageError(absl::StrCat("owner '", owner, "' must be user:NAME, group:NAME or public"));
}

void AddUserCommands(CLI::App& admin, CommandSet& set) {
  CLI::App* user = admin.add_subcommand("user", "users and tokens")->require_subcommand(1);
  {
    auto a = std::make_shared<UserArgs>();
    CLI::App* sub = user->add_subcommand("add", "add a user; prints their token once");
    sub->add_option("NAME", a->name, "login name")->required();
    sub->add_option("--role", a->role, "admin, internal (default) or external");
    sub->add_option("-g,--group", a->groups, "user group (repeatable; created if missing)");
    AddJsonFlag(sub, set);
    sub->callback([&set, a] {
      set.action = [&set, a] {
        hai::v1::UserAddRequest r;
        r.set_name(a->name);
        r.set_role(a->role);
        for (const auto& g : a->groups) r.add_groups(g);
        return Call<hai::v1::UserAddRequest, hai::v1::UserAddResponse>(
            set.globals, r, &Stub::UserAdd, [](const hai::v1::UserAddResponse& resp) {
              return absl::StrCat("added ", resp.user().name(), " (uid ", resp.user().uid(),
                                  ")\ntoken: ", resp.token(),
                                  "\n(shown once; they run: hai-cli init TOKEN --url HOST:PORT)\n");
            });
      };
    });
  }
  {
    CLI::App* sub = user->add_subcommand("list", "every user with role, state and groups");
    AddJsonFlag(sub, set);
    sub->callback([&set] {
      set.action = [&set] {
        return Call<hai::v1::UserListRequest, hai::v1::UserListResponse>(
            set.globals, hai::v1::UserListRequest(), &Stub::UserList,
            [](const hai::v1::UserListResponse& resp) { return UsersTable(resp.users()); });
      };
    });
  }
  {
    auto a = std::make_shared<UserArgs>();
    CLI::App* sub = user->add_subcommand("disable", "refuse the user's token from now on");
    sub->add_option("NAME", a->name)->required();
    sub->add_flag("--stop-tasks", a->stop_tasks, "also stop their open tasks (default: let them finish)");
    AddJsonFlag(sub, set);
    sub->callback([&set, a] {
      set.action = [&set, a] {
        hai::v1::UserDisableRequest r;
        r.set_name(a->name);
        r.set_stop_tasks(a->stop_tasks);
        return Call<hai::v1::UserDisableRequest, hai::v1::UserDisableResponse>(
            set.globals, r, &Stub::UserDisable, [](const hai::v1::UserDisableResponse& resp) {
              return absl::StrCat("disabled ", resp.user().name(), "; stopped ",
                                  resp.stopped_tasks(), " task(s)\n");
            });
      };
    });
  }
  {
    auto a = std::make_shared<UserArgs>();
    CLI::App* sub = user->add_subcommand("rotate-token", "new token; the old one stops working");
    sub->add_option("NAME", a->name)->required();
    AddJsonFlag(sub, set);
    sub->callback([&set, a] {
      set.action = [&set, a] {
        hai::v1::UserRotateTokenRequest r;
        r.set_name(a->name);
        return Call<hai::v1::UserRotateTokenRequest, hai::v1::UserRotateTokenResponse>(
            set.globals, r, &Stub::UserRotateToken,
            [](const hai::v1::UserRotateTokenResponse& resp) {
              return absl::StrCat("token: ", resp.token(), "\n");
            });
      };
    });
  }
}

void AddQuotaCommands(CLI::App& admin, CommandSet& set) {
  CLI::App* quota = admin.add_subcommand("quota", "quota rows")->require_subcommand(1);
  {
    auto a = std::make_shared<QuotaArgs>();
    CLI::App* sub = quota->add_subcommand("set", "set OWNER's quota: max NODES of RESOURCE");
    sub->add_option("OWNER", a->owner, "user:NAME, group:NAME or public")->required();
    sub->add_option("RESOURCE", a->resource, "node-<group>-<TIER>, e.g. node-a100-HIGH")
        ->required();
    sub->add_option("NODES", a->nodes, "max nodes held at once")->required();
    sub->add_option("--expire-in-hours", a->expire_in_hours, "the row stops counting after this");
    AddJsonFlag(sub, set);
    sub->callback([&set, a] {
      set.action = [&set, a]() -> absl::StatusOr<int> {
        ASSIGN_OR_RETURN(auto owner, ParseOwner(a->owner));
        hai::v1::QuotaSetRequest r;
        hai::v1::QuotaEntry* e = r.mutable_entry();
        e->set_owner_kind(owner.first);
        e->set_owner(owner.second);
        e->set_resource(a->resource);
        e->set_quota(a->nodes);
        e->set_active(true);
        if (a->expire_in_hours > 0) {
          e->set_expire_at_unix(
              absl::ToUnixSeconds(absl::Now() + absl::Hours(a->expire_in_hours)));
        }
        return Call<hai::v1::QuotaSetRequest, hai::v1::QuotaSetResponse>(
            set.globals, r, &Stub::QuotaSet,
            [a](const hai::v1::QuotaSetResponse&) {
              return absl::StrCat("quota ", a->owner, " ", a->resource, " = ", a->nodes, "\n");
            });
      };
    });
  }
  {
    CLI::App* sub = quota->add_subcommand("list", "every quota row");
    AddJsonFlag(sub, set);
    sub->callback([&set] {
      set.action = [&set] {
        return Call<hai::v1::QuotaListRequest, hai::v1::QuotaListResponse>(
            set.globals, hai::v1::QuotaListRequest(), &Stub::QuotaList,
            [](const hai::v1::QuotaListResponse& resp) {
              Table t({"OWNER", "RESOURCE", "NODES", "EXPIRES", "ACTIVE"});
              for (const auto& e : resp.entries()) {
                t.AddRow({e.owner_kind() == "public" ? "public"
                                                     : absl::StrCat(e.owner_kind(), ":", e.owner()),
                          e.resource(), absl::StrCat(e.quota()),
                          e.expire_at_unix() == 0
                              ? "-"
                              : absl::FormatTime("%Y-%m-%d %H:%M",
                                                 absl::FromUnixSeconds(e.expire_at_unix()),
                                                 absl::LocalTimeZone()),
                          e.active() ? "yes" : "no"});
              }
              return t.Render();
            });
      };
    });
  }
}

void AddNodeStateCommand(CLI::App* node, CommandSet& set, const std::string& name,
                         hai::v1::Node::State state, const std::string& help) {
  auto a = std::make_shared<NodeArgs>();
  CLI::App* sub = node->add_subcommand(name, help);
  sub->add_option("NODE", a->name)->required();
  sub->add_option("--reason", a->reason, "shown by `hai-cli nodes`");
  AddJsonFlag(sub, set);
  sub->callback([&set, a, state] {
    set.action = [&set, a, state] {
      hai::v1::NodeStateRequest r;
      r.set_name(a->name);
      r.set_state(state);
      r.set_reason(a->reason);
      return Call<hai::v1::NodeStateRequest, hai::v1::NodeStateResponse>(
          set.globals, r, &Stub::NodeSetState, [a, state](const hai::v1::NodeStateResponse& resp) {
            return absl::StrCat(
                "node ", a->name, " ", StateText(state),
                state == hai::v1::Node::DRAINING
                    ? absl::StrCat("; suspending ", resp.suspended_attempts(), " task(s)")
                    : "",
                "\n");
          });
    };
  });
}

void AddNodeCommands(CLI::App& admin, CommandSet& set) {
  CLI::App* node = admin.add_subcommand("node", "nodes: add, list, cordon, uncordon, drain")
                       ->require_subcommand(1);
  {
    auto a = std::make_shared<NodeArgs>();
    CLI::App* sub = node->add_subcommand("add", "add a node; schedulable at once");
    sub->add_option("NODE", a->name)->required();
    sub->add_option("-g,--group", a->group, "node group")->required();
    sub->add_option("--gpus", a->gpus, "GPUs on the node")->required();
    sub->add_option("--room", a->room);
    sub->add_option("--switch", a->sw);
    AddJsonFlag(sub, set);
    sub->callback([&set, a] {
      set.action = [&set, a] {
        hai::v1::NodeAddRequest r;
        r.set_name(a->name);
        r.set_group(a->group);
        r.set_gpus(a->gpus);
        r.set_room(a->room);
        r.set_switch_(a->sw);
        return Call<hai::v1::NodeAddRequest, hai::v1::NodeAddResponse>(
            set.globals, r, &Stub::NodeAdd, [a](const hai::v1::NodeAddResponse&) {
              return absl::StrCat("added node ", a->name, " to group ", a->group, "\n");
            });
      };
    });
  }
  {
    auto group = std::make_shared<std::string>();
    CLI::App* sub = node->add_subcommand("list", "nodes with state, reason and tasks (= `nodes`)");
    sub->add_option("-g,--group", *group, "only this node group");
    AddJsonFlag(sub, set);
    sub->callback([&set, group] {
      set.action = [&set, group] { return RunNodes(set.globals, *group); };
    });
  }
  AddNodeStateCommand(node, set, "cordon", hai::v1::Node::CORDONED,
                      "no new starts; running tasks stay");
  AddNodeStateCommand(node, set, "uncordon", hai::v1::Node::READY, "schedulable again");
  AddNodeStateCommand(node, set, "drain", hai::v1::Node::DRAINING,
                      "no new starts; running tasks are suspended and requeued elsewhere");
}

}  // namespace

void AddAdminCommands(CLI::App& app, CommandSet& set) {
  CLI::App* admin =
      app.add_subcommand("admin", "administration (admin role): user, quota, node, check")
          ->require_subcommand(1);
  AddUserCommands(*admin, set);
  AddQuotaCommands(*admin, set);
  AddNodeCommands(*admin, set);
  CLI::App* check = admin->add_subcommand("check", "invalid admin rows haid is skipping");
  AddJsonFlag(check, set);
  check->callback([&set] {
    set.action = [&set] {
      return Call<hai::v1::CheckRequest, hai::v1::CheckResponse>(
          set.globals, hai::v1::CheckRequest(), &Stub::Check,
          [](const hai::v1::CheckResponse& resp) {
            if (resp.problems().empty()) return std::string("no problems\n");
            return absl::StrCat(absl::StrJoin(resp.problems(), "\n"), "\n");
          });
    };
  });
}

}  // namespace hai::cli
