// UI text in Simplified Chinese (default) and English. Keys, not sentences, live in the markup:
// `data-i18n="key"` sets textContent, `data-i18n-title` a tooltip, `data-i18n-placeholder` a placeholder.

const zh = {
  "app.title": "锐眼指挥中心",
  "nav.queue": "事件队列", "nav.map": "网格地图", "nav.kpis": "考核指标", "nav.devices": "设备",
  "nav.logout": "退出", "nav.lang": "语言",
  "live.live": "实时", "live.reconnecting": "重连中…", "live.offline": "已断开",
  "sound.enable": "点击此处启用报警声音", "sound.on": "报警声音已启用",
  "login.title": "登录", "login.username": "用户名", "login.password": "密码", "login.submit": "登录",
  "login.invalid": "用户名或密码错误", "login.locked": "失败次数过多，账户已锁定，请稍后再试",
  "login.rate": "尝试过于频繁，请稍后再试", "login.error": "登录失败",
  "filter.category": "类别", "filter.state": "状态", "filter.street": "街道", "filter.grid": "网格",
  "filter.all": "全部", "filter.open": "未办结", "filter.clear": "清除筛选",
  "col.priority": "级", "col.id": "编号", "col.category": "类别", "col.place": "位置",
  "col.state": "状态", "col.age": "已过", "col.deadline": "时限",
  "queue.empty": "暂无事件", "queue.count": "{n} 起事件",
  "detail.none": "选择一个事件查看详情", "detail.evidence": "证据", "detail.timeline": "处置记录",
  "detail.deadlines": "时限", "detail.ack_deadline": "受理时限", "detail.close_deadline": "办结时限",
  "detail.escalation": "升级层级", "detail.delivery": "推送接警平台", "detail.actions": "处置操作",
  "detail.video": "联动视频", "detail.video_pending": "视频接入中（摄像头：{cams}）",
  "nav.wall": "视频墙", "wall.pinned": "已固定的摄像头", "wall.choose": "显示", "wall.unpin_all": "全部取消固定",
  "wall.empty": "没有可显示的摄像头：在事件详情中点击“固定到视频墙”，或选择街道、网格",
  "video.pin": "固定到视频墙", "video.pinned": "已固定", "video.age": "最新画面 {age} 前",
  "video.mode.connecting": "连接中…", "video.mode.webrtc": "实时 WebRTC", "video.mode.mjpeg": "MJPEG 备用",
  "video.mode.picture": "定时截图", "video.state.online": "在线", "video.state.starting": "启动中",
  "video.state.reconnecting": "重连中", "video.state.offline": "离线", "video.state.stopped": "已停止",
  "video.state.disabled": "已停用",
  "detail.no_cameras": "无联动摄像头", "detail.source": "来源", "detail.triggers": "触发次数",
  "detail.assignee": "派遣对象", "detail.resolution": "办结说明", "detail.linked": "关联事件",
  "detail.no_deliveries": "无推送记录", "detail.done": "已完成",
  "dispatch.not_reached": "⚠ 接警平台未送达！请电话通知接警中心",
  "dispatch.status": "推送状态",
  "overdue": "超时", "overdue_by": "超时 {d}", "remaining": "剩余 {d}",
  "action.note": "说明", "action.assignee": "派遣给（单位/人员）", "action.disposition": "结论",
  "action.merged_into": "合并到事件编号", "action.score": "评价（1-5）", "action.submit": "确认",
  "action.cancel_form": "取消", "action.note_required": "必须填写说明", "action.assignee_required": "必须填写派遣对象",
  "action.failed": "操作失败：{msg}",
  "act.acknowledge": "受理", "act.dispatch": "派遣", "act.reject": "退回", "act.start": "开始处置",
  "act.resolve": "处置完毕", "act.close": "办结", "act.evaluate": "评价", "act.cancel": "误报/撤销",
  "act.merge": "合并", "act.created": "创建", "act.updated": "更新", "act.retriggered": "再次触发",
  "act.escalated": "升级", "act.button_cancel": "按钮取消", "act.cleared": "已恢复",
  "act.escalate": "升级", "act.dispatch_not_reached": "接警平台未送达", "act.auto_close": "自动关闭",
  "disp.false_alarm": "误报", "disp.test": "测试", "disp.duplicate": "重复", "disp.handled": "已处理", "disp.other": "其他",
  "state.reported": "待受理", "state.acknowledged": "已受理", "state.dispatched": "已派遣",
  "state.in_progress": "处置中", "state.resolved": "已处置", "state.closed": "已办结",
  "state.evaluated": "已评价", "state.cancelled": "已撤销", "state.merged": "已合并",
  "cat.sos": "一键报警求助", "cat.fire": "火情", "cat.smoke": "烟雾", "cat.crowd": "人员聚集",
  "cat.gathering": "突发聚集", "cat.tamper": "设备防拆报警", "cat.video_loss": "视频丢失",
  "cat.device_offline": "设备离线", "cat.low_battery": "设备电量低", "cat.dispatch_failure": "接警平台不可达",
  "esc.grid": "网格", "esc.community": "社区", "esc.street": "街道", "esc.district": "区",
  "del.pending": "待发送", "del.delivered": "已送达", "del.dead": "未送达",
  "dstat.none": "无", "dstat.pending": "发送中", "dstat.delivered": "已送达", "dstat.not_reached": "未送达",
  "map.district": "全区", "map.street": "街道 {id}", "map.community": "社区 {id}", "map.grid": "网格",
  "map.open": "未办结 {n}", "map.hint": "点击区域逐级下钻：区 → 街道 → 社区 → 网格", "map.incidents": "本区域事件",
  "kpi.period": "统计周期", "kpi.today": "今天", "kpi.24h": "近 24 小时", "kpi.7d": "近 7 天",
  "kpi.30d": "近 30 天", "kpi.all": "全部",
  "kpi.open": "未办结", "kpi.overdue": "超时", "kpi.total": "总数", "kpi.closed": "已办结",
  "kpi.closure_rate": "办结率", "kpi.within": "按时办结率", "kpi.tta50": "受理时长 P50",
  "kpi.tta90": "受理时长 P90", "kpi.overall": "总体", "kpi.by_street": "按街道", "kpi.by_grid": "按网格",
  "kpi.by_rule": "规则准确率（依据误报结论）", "kpi.rule": "规则", "kpi.confirmed": "确认",
  "kpi.false_alarms": "误报", "kpi.undecided": "未判定", "kpi.precision": "准确率", "kpi.name": "名称",
  "dev.buttons": "一键报警设备", "dev.cameras": "摄像头", "dev.unknown": "未登记的发送方",
  "dev.id": "编号", "dev.kind": "类型", "dev.grid": "网格", "dev.presence": "在线状态",
  "dev.last_seen": "最后通信", "dev.battery": "电量", "dev.tamper": "防拆", "dev.messages": "消息数",
  "dev.error": "最近错误", "dev.fps": "帧率", "dev.frame_age": "最新帧", "dev.none": "暂无",
  "pres.online": "在线", "pres.offline": "离线", "pres.silent": "失联", "pres.unknown": "未知",
  "flag.low": "电量低", "flag.ok": "正常", "flag.tamper": "被拆", "flag.none": "—",
  "ago": "{d}前", "never": "从未",
  "role.operator": "值班员", "role.supervisor": "主管", "role.admin": "管理员",
};

const en = {
  "app.title": "Sharp Eyes Command Centre",
  "nav.queue": "Incidents", "nav.map": "Grid map", "nav.kpis": "KPIs", "nav.devices": "Devices",
  "nav.logout": "Sign out", "nav.lang": "Language",
  "live.live": "Live", "live.reconnecting": "Reconnecting…", "live.offline": "Disconnected",
  "sound.enable": "Click here to enable the alarm sound", "sound.on": "Alarm sound enabled",
  "login.title": "Sign in", "login.username": "Username", "login.password": "Password", "login.submit": "Sign in",
  "login.invalid": "Wrong username or password", "login.locked": "Too many failed attempts: account locked, try again later",
  "login.rate": "Too many attempts, try again later", "login.error": "Sign-in failed",
  "filter.category": "Category", "filter.state": "State", "filter.street": "Street", "filter.grid": "Grid",
  "filter.all": "All", "filter.open": "Open", "filter.clear": "Clear filters",
  "col.priority": "P", "col.id": "No.", "col.category": "Category", "col.place": "Place",
  "col.state": "State", "col.age": "Age", "col.deadline": "Deadline",
  "queue.empty": "No incidents", "queue.count": "{n} incidents",
  "detail.none": "Select an incident to see its details", "detail.evidence": "Evidence", "detail.timeline": "Timeline",
  "detail.deadlines": "Deadlines", "detail.ack_deadline": "Acknowledge by", "detail.close_deadline": "Close by",
  "detail.escalation": "Escalated to", "detail.delivery": "Delivery to dispatch", "detail.actions": "Actions",
  "detail.video": "Linked video", "detail.video_pending": "Live video coming (cameras: {cams})",
  "nav.wall": "Camera wall", "wall.pinned": "Pinned cameras", "wall.choose": "Show", "wall.unpin_all": "Unpin all",
  "wall.empty": "No cameras to show: pin one from an incident (\u201cPin to wall\u201d) or pick a street or grid",
  "video.pin": "Pin to wall", "video.pinned": "Pinned", "video.age": "last frame {age} ago",
  "video.mode.connecting": "connecting…", "video.mode.webrtc": "live WebRTC", "video.mode.mjpeg": "MJPEG fallback",
  "video.mode.picture": "refreshed pictures", "video.state.online": "online", "video.state.starting": "starting",
  "video.state.reconnecting": "reconnecting", "video.state.offline": "offline", "video.state.stopped": "stopped",
  "video.state.disabled": "disabled",
  "detail.no_cameras": "No linked cameras", "detail.source": "Source", "detail.triggers": "Triggers",
  "detail.assignee": "Assigned to", "detail.resolution": "Resolution", "detail.linked": "Linked incident",
  "detail.no_deliveries": "No deliveries", "detail.done": "Done",
  "dispatch.not_reached": "⚠ DISPATCH NOT REACHED! Phone the dispatch centre",
  "dispatch.status": "Dispatch status",
  "overdue": "Overdue", "overdue_by": "overdue {d}", "remaining": "{d} left",
  "action.note": "Note", "action.assignee": "Dispatch to (unit or person)", "action.disposition": "Verdict",
  "action.merged_into": "Merge into incident no.", "action.score": "Score (1-5)", "action.submit": "Confirm",
  "action.cancel_form": "Back", "action.note_required": "A note is required", "action.assignee_required": "Say who is dispatched",
  "action.failed": "Action failed: {msg}",
  "act.acknowledge": "Acknowledge", "act.dispatch": "Dispatch", "act.reject": "Reject", "act.start": "Start",
  "act.resolve": "Resolve", "act.close": "Close", "act.evaluate": "Evaluate", "act.cancel": "False alarm / cancel",
  "act.merge": "Merge", "act.created": "Created", "act.updated": "Updated", "act.retriggered": "Triggered again",
  "act.escalated": "Escalated", "act.button_cancel": "Button cancel", "act.cleared": "Cleared",
  "act.escalate": "Escalated", "act.dispatch_not_reached": "Dispatch not reached", "act.auto_close": "Closed automatically",
  "disp.false_alarm": "False alarm", "disp.test": "Test", "disp.duplicate": "Duplicate", "disp.handled": "Handled", "disp.other": "Other",
  "state.reported": "Reported", "state.acknowledged": "Acknowledged", "state.dispatched": "Dispatched",
  "state.in_progress": "In progress", "state.resolved": "Resolved", "state.closed": "Closed",
  "state.evaluated": "Evaluated", "state.cancelled": "Cancelled", "state.merged": "Merged",
  "cat.sos": "SOS button", "cat.fire": "Fire", "cat.smoke": "Smoke", "cat.crowd": "Crowding",
  "cat.gathering": "Sudden gathering", "cat.tamper": "Device tamper", "cat.video_loss": "Video loss",
  "cat.device_offline": "Device offline", "cat.low_battery": "Low battery", "cat.dispatch_failure": "Dispatch not reached",
  "esc.grid": "Grid", "esc.community": "Community", "esc.street": "Street", "esc.district": "District",
  "del.pending": "Pending", "del.delivered": "Delivered", "del.dead": "Not delivered",
  "dstat.none": "None", "dstat.pending": "Sending", "dstat.delivered": "Delivered", "dstat.not_reached": "Not reached",
  "map.district": "District", "map.street": "Street {id}", "map.community": "Community {id}", "map.grid": "Grid",
  "map.open": "{n} open", "map.hint": "Click an area to drill down: district → street → community → grid", "map.incidents": "Incidents here",
  "kpi.period": "Period", "kpi.today": "Today", "kpi.24h": "Last 24 h", "kpi.7d": "Last 7 days",
  "kpi.30d": "Last 30 days", "kpi.all": "All time",
  "kpi.open": "Open", "kpi.overdue": "Overdue", "kpi.total": "Total", "kpi.closed": "Closed",
  "kpi.closure_rate": "Closure rate", "kpi.within": "Closed within deadline", "kpi.tta50": "Time to acknowledge p50",
  "kpi.tta90": "Time to acknowledge p90", "kpi.overall": "Overall", "kpi.by_street": "By street", "kpi.by_grid": "By grid",
  "kpi.by_rule": "Rule precision (from false-alarm verdicts)", "kpi.rule": "Rule", "kpi.confirmed": "Confirmed",
  "kpi.false_alarms": "False alarms", "kpi.undecided": "Undecided", "kpi.precision": "Precision", "kpi.name": "Name",
  "dev.buttons": "Alarm buttons", "dev.cameras": "Cameras", "dev.unknown": "Unknown senders",
  "dev.id": "ID", "dev.kind": "Kind", "dev.grid": "Grid", "dev.presence": "Presence",
  "dev.last_seen": "Last seen", "dev.battery": "Battery", "dev.tamper": "Tamper", "dev.messages": "Messages",
  "dev.error": "Last error", "dev.fps": "FPS", "dev.frame_age": "Last frame", "dev.none": "None",
  "pres.online": "Online", "pres.offline": "Offline", "pres.silent": "Silent", "pres.unknown": "Unknown",
  "flag.low": "Low", "flag.ok": "OK", "flag.tamper": "Tampered", "flag.none": "—",
  "ago": "{d} ago", "never": "never",
  "role.operator": "Operator", "role.supervisor": "Supervisor", "role.admin": "Admin",
};

const DICTS = { "zh-CN": zh, en };
const KEY = "sharpeyes.lang";
let lang = DICTS[localStorage.getItem(KEY)] ? localStorage.getItem(KEY) : "zh-CN";
const listeners = [];

export const LANGS = [["zh-CN", "简体中文"], ["en", "English"]];

export function getLang() { return lang; }

export function t(key, vars = {}) {
  const text = DICTS[lang][key] ?? DICTS["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** Translate a value with a prefix, falling back to the raw value for unknown categories or actions. */
export function tv(prefix, value) {
  const key = `${prefix}.${value}`;
  return DICTS[lang][key] ?? DICTS["zh-CN"][key] ?? String(value);
}

export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}

export function setLang(next) {
  if (!DICTS[next]) return;
  lang = next;
  localStorage.setItem(KEY, next);
  applyI18n();
  for (const fn of listeners) fn(next);
}

export function onLangChange(fn) { listeners.push(fn); }
