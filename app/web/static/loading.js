// Loading: the bonds, the selected bond with its checkpoints and latest day, and the selected
// asset's detail, series and methodology (fetched when shown, then kept).

import { API, KEY_STORAGE, $, params, setStatus, state, t } from "./state.js";
import { allPages, api } from "./api.js";

export async function load() {
  try {
    state.config = state.config || (await api("config.json"));
    if (!$("#verify-rpc").value && state.config.chain_rpc_url) $("#verify-rpc").value = state.config.chain_rpc_url;
    if (state.config.investor_access === "api_key" && !state.key) {
      $("#key-panel").hidden = false;
      setStatus("");
      return;
    }
    state.bonds = await allPages(`${API}/bonds`);
    if (!state.bonds.length) {
      setStatus(t("no_bonds"));
      return;
    }
    const asked = Number(params.get("bond"));
    state.bondId = state.bonds.some((b) => b.id === asked) ? asked : state.bonds[0].id;
    await loadBond();
    setStatus("");
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      $("#key-panel").hidden = false;
      sessionStorage.removeItem(KEY_STORAGE);
      state.key = null;
    }
    setStatus(t("load_failed", { error: e.message }));
  }
}

export async function loadBond() {
  const id = state.bondId;
  const [bond, checkpoints, months] = await Promise.all([
    api(`${API}/bonds/${id}`),
    api(`${API}/checkpoints?limit=100`),
    allPages(`${API}/bonds/${id}/impact?period=month`),
  ]);
  state.bond = bond;
  state.checkpoints = checkpoints.items;
  state.latestDay = null;
  if (months.length) {
    const first = months[months.length - 1].period_start;
    const days = await allPages(`${API}/bonds/${id}/impact?period=day&first_day=${first}`);
    state.latestDay = days.length ? days[days.length - 1] : null;
  }
  // Asset details are fetched when an asset is shown (a bond may finance a thousand assets);
  // the bond's home zone is its first asset's.
  const assetIds = bond.allocations.map((a) => a.asset_id);
  if (!assetIds.includes(state.assetId)) state.assetId = assetIds[0] ?? null;
  const home = assetIds.length ? await assetDetail(assetIds[0]) : null;
  state.homeZone = home ? home.timezone : "UTC";
  await loadAsset();
}

async function assetDetail(id) {
  if (!state.assets[id]) state.assets[id] = await api(`${API}/assets/${id}`);
  return state.assets[id];
}

export async function loadAsset() {
  const id = state.assetId;
  if (id === null) return;
  const key = `${id}/${state.period}`;
  const jobs = [assetDetail(id)];
  if (!state.series[key]) {
    jobs.push(
      allPages(`${API}/assets/${id}/series?period=${state.period}`).then((items) => {
        state.series[key] = items;
      }),
    );
  }
  if (!state.methodology[id]) {
    jobs.push(
      api(`${API}/assets/${id}/methodology`).then((m) => {
        state.methodology[id] = m;
      }),
    );
  }
  await Promise.all(jobs);
}
