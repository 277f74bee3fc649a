// UI strings in English and Chinese, and the current language.
// Every key carries both texts side by side, so neither language can miss one.
// The language comes from localStorage, else from navigator.language (zh* → Chinese).

export const LANGUAGES = [
  ["zh", "中文"],
  ["en", "English"],
];

const STORAGE_KEY = "vigil.lang";

export const STRINGS = {
  // application
  "app.name": ["Vigil", "Vigil"],
  "app.subtitle": ["Public-safety video network", "公共安全视频联网平台"],
  "app.title": ["Vigil — public-safety video network", "Vigil 公共安全视频联网平台"],

  // header and navigation
  "nav.label": ["Main", "主导航"],
  "nav.points": ["Collection points", "采集点位"],
  "nav.devices": ["Devices", "设备"],
  "nav.import": ["Ledger import", "台账导入"],
  "nav.users": ["Users & roles", "用户与角色"],
  "nav.audit": ["Audit log", "审计日志"],
  "header.language": ["Language", "语言"],
  "header.logout": ["Sign out", "退出登录"],

  // pages in general
  "page.not_found": ["Page not found.", "页面不存在。"],
  "page.to_points": ["Go to the collection points", "返回采集点位"],
  "page.forbidden": ["You do not have permission to view this page.", "您无权访问此页面。"],

  // common words
  "common.loading": ["Loading…", "加载中…"],
  "common.save": ["Save", "保存"],
  "common.saved": ["Saved.", "已保存。"],
  "common.cancel": ["Cancel", "取消"],
  "common.reset": ["Reset", "重置"],
  "common.all": ["All", "全部"],
  "common.empty": ["No records.", "暂无记录。"],
  "common.none_option": ["(none)", "（无）"],
  "common.prev": ["Previous", "上一页"],
  "common.next": ["Next", "下一页"],
  "common.page_size": ["Rows per page", "每页行数"],
  "common.pagination": ["Pages", "分页"],
  "common.range": ["{from}–{to} of {total}", "第 {from}–{to} 条，共 {total} 条"],
  "common.actions": ["Actions", "操作"],
  "common.hd": ["HD", "高清"],
  "common.refresh": ["Refresh", "刷新"],
  "common.yes": ["Yes", "是"],
  "common.no": ["No", "否"],

  // errors
  "error.unknown": ["The request failed.", "请求失败。"],
  "error.row": ["Row", "行号"],
  "error.column": ["Column", "列"],
  "error.field": ["Field", "字段"],
  "error.reason": ["Reason", "原因"],
  "error.code.validation_failed": ["Some values are not valid.", "部分数据不合法。"],
  "error.code.ledger_invalid": ["The ledger has errors; nothing was imported.", "台账存在错误，未导入任何数据。"],
  "error.code.not_found": ["Not found.", "未找到。"],
  "error.code.forbidden": ["You do not have permission for this action.", "您无权执行此操作。"],
  "error.code.unauthorized": ["Please sign in again.", "请重新登录。"],
  "error.code.throttled": ["Too many requests. Try again later.", "请求过于频繁，请稍后再试。"],
  "error.code.conflict": ["This conflicts with existing data.", "与现有数据冲突。"],
  "error.code.too_large": ["The file is too large.", "文件过大。"],
  "error.code.network": ["The server cannot be reached.", "无法连接服务器。"],
  "error.code.bad_request": ["The request was not understood.", "请求格式错误。"],
  "error.code.ledger_unreadable": ["The file cannot be read as a ledger (CSV or XLSX).", "无法读取该文件（应为 CSV 或 XLSX 台账）。"],
  "error.code.method_not_allowed": ["This action is not supported.", "不支持此操作。"],
  "error.code.internal": ["The server failed to handle the request.", "服务器处理请求时出错。"],
  "error.code.timeout": ["The device did not answer in time.", "设备未在规定时间内应答。"],
  "error.code.offline": ["The device is not registered with the platform.", "设备未在平台注册。"],
  "error.code.device_error": ["The device answered with an error.", "设备返回错误。"],
  "error.code.overloaded": ["The platform is busy. Try again later.", "平台繁忙，请稍后再试。"],
  "error.code.signaling_error": ["The device could not be queried.", "无法查询该设备。"],
  "error.code.unavailable": ["Signalling is not running on this platform.", "本平台未启用信令服务。"],

  // sign in
  "login.title": ["Sign in", "用户登录"],
  "login.username": ["Username", "用户名"],
  "login.password": ["Password", "密码"],
  "login.submit": ["Sign in", "登录"],
  "login.missing": ["Enter your username and password.", "请输入用户名和密码。"],
  "login.failed": ["Wrong username or password.", "用户名或密码错误。"],
  "login.throttled": ["Too many failed attempts. Try again later.", "失败次数过多，请稍后再试。"],

  // region tree and sidebar
  "sidebar.label": ["Regions and organisations", "区划与单位"],
  "sidebar.orgs": ["Organisations", "建设单位"],
  "tree.title": ["Regions", "行政区划"],
  "tree.all": ["All regions", "全部区划"],
  "tree.show_empty": ["Show regions without points", "显示无点位的区划"],
  "tree.counts": ["{online} online of {total}", "在线 {online} / 共 {total}"],
  "orgs.all": ["All organisations", "全部单位"],
  "orgs.search": ["Find an organisation", "查找单位"],
  "orgs.search_placeholder": ["Find organisation…", "查找单位…"],

  // point list
  "points.title": ["Collection points", "采集点位"],
  "points.count": ["{total} points", "共 {total} 个点位"],
  "points.empty": ["No collection points match these filters.", "没有符合条件的采集点位。"],
  "filter.text": ["Search", "搜索"],
  "filter.text_placeholder": ["Name, ID or address", "名称、编码或地址"],
  "filter.class": ["Class", "点位类别"],
  "filter.network": ["Network", "联网网络"],
  "filter.online": ["Status", "在线状态"],
  "filter.org": ["Organisation", "建设单位"],
  "filter.region": ["Region", "区划"],
  "filter.clear": ["Clear filters", "清除筛选"],
  "filter.clear_region": ["Clear the region filter", "清除区划筛选"],
  "col.id": ["ID", "编码"],
  "col.name": ["Name", "名称"],
  "col.region": ["Region", "行政区划"],
  "col.org": ["Organisation", "建设单位"],
  "col.class": ["Class", "类别"],
  "col.network": ["Network", "联网网络"],
  "col.resolution": ["Resolution", "分辨率"],
  "col.retention": ["Retention (days)", "存储天数"],
  "col.status": ["Status", "状态"],
  "export.label": ["Export the ledger", "导出台账"],
  "export.csv": ["Export CSV", "导出 CSV"],
  "export.xlsx": ["Export Excel", "导出 Excel"],
  "export.done": ["Exported {name}.", "已导出 {name}。"],

  // enumerations
  "class.1": ["Class 1", "一类点"],
  "class.2": ["Class 2", "二类点"],
  "class.3": ["Class 3", "三类点"],
  "network.police_video": ["Police video network", "公安视频专网"],
  "network.social_video": ["Social video network", "社会视频资源网"],
  "network.internet": ["Internet", "互联网"],
  "network.wireless": ["Wireless", "无线网络"],
  "online.true": ["Online", "在线"],
  "online.false": ["Offline", "离线"],
  "ptz.none": ["Unknown", "未知"],
  "ptz.1": ["Dome (PTZ)", "球机"],
  "ptz.2": ["Half-dome", "半球"],
  "ptz.3": ["Fixed bullet", "固定枪机"],
  "ptz.4": ["Remote-controlled bullet", "遥控枪机"],
  "ptz.5": ["Remote-controlled half-dome", "遥控半球"],
  "ptz.6": ["Panorama / stitched channel", "全景/拼接通道"],
  "ptz.7": ["Split channel of a multi-lens camera", "多目设备的分割通道"],
  "outcome.ok": ["OK", "成功"],
  "outcome.denied": ["Denied", "拒绝"],
  "outcome.failed": ["Failed", "失败"],
  "outcome.throttled": ["Throttled", "已限流"],
  "role.admin": ["Administrator", "系统管理员"],
  "role.operator": ["Operator", "值班操作员"],
  "role.viewer": ["Viewer", "查看人员"],
  "role.auditor": ["Auditor", "审计员"],
  "role.approver": ["Approver", "审批人"],
  "perm.registry.read": ["See the ledger", "查看台账"],
  "perm.registry.write": ["Edit collection points", "编辑采集点位"],
  "perm.ledger.import": ["Import the ledger", "导入台账"],
  "perm.ledger.export": ["Export the ledger", "导出台账"],
  "perm.users.manage": ["Manage users", "管理用户"],
  "perm.audit.read": ["Read the audit log", "查看审计日志"],
  "perm.live.view": ["Watch live video", "查看实时视频"],
  "perm.playback.view": ["Play back recordings", "录像回放"],
  "perm.export.create": ["Export recordings", "导出录像"],
  "perm.ptz.control": ["Control PTZ cameras", "云台控制"],
  "perm.share.approve": ["Approve sharing", "审批视频共享"],
  "perm.devices.manage": ["Manage devices", "管理设备"],

  // relative times
  "time.just_now": ["just now", "刚刚"],
  "time.seconds": ["{n} s", "{n} 秒"],
  "time.minutes": ["{n} min", "{n} 分钟"],
  "time.hours": ["{n} h", "{n} 小时"],
  "time.days": ["{n} d", "{n} 天"],
  "time.ago": ["{text} ago", "{text}前"],
  "time.in": ["in {text}", "{text}后"],
  "time.seconds_n": ["{n} s", "{n} 秒"],

  // live updates
  "live.badge": ["Live", "实时"],
  "live.state.off": ["Live updates are off", "实时推送未连接"],
  "live.state.connecting": ["Connecting live updates…", "正在连接实时推送…"],
  "live.state.open": ["Live updates on", "实时推送已连接"],
  "live.state.retrying": ["Live updates interrupted, reconnecting…", "实时推送中断，正在重连…"],
  "live.device_online": ["Device {id} is online.", "设备 {id} 已上线。"],
  "live.device_offline": ["Device {id} went offline.", "设备 {id} 已离线。"],
  "live.devices_online": ["{up} devices came online.", "{up} 台设备上线。"],
  "live.devices_offline": ["{down} devices went offline.", "{down} 台设备离线。"],
  "live.devices_changed": ["{up} devices came online, {down} went offline.", "{up} 台设备上线，{down} 台设备离线。"],

  // device list
  "devices.title": ["Devices", "设备"],
  "devices.count": ["{total} devices", "共 {total} 台设备"],
  "devices.unnamed": ["(unnamed)", "（未命名）"],
  "devices.empty": ["No devices match these filters.", "没有符合条件的设备。"],
  "devices.filter.text_placeholder": ["Name, ID, address or model", "名称、编码、地址或型号"],
  "devices.filter.status": ["Approval", "接入状态"],
  "devices.col.make": ["Manufacturer / model", "厂商 / 型号"],
  "devices.col.transport": ["Transport", "传输协议"],
  "devices.col.address": ["Address", "信令地址"],
  "devices.col.keepalive": ["Last keepalive", "最近心跳"],
  "devices.col.approval": ["Approval", "接入状态"],
  "device.status.active": ["Active", "已接入"],
  "device.status.pending": ["Pending approval", "待审批"],
  "device.status.disabled": ["Disabled", "已停用"],

  // device detail
  "device.back": ["Back to devices", "返回设备列表"],
  "device.fields": ["Device record", "设备档案"],
  "device.state": ["Signalling state", "信令状态"],
  "device.state.never": ["Not registered since the platform started.", "平台启动以来该设备未注册。"],
  "device.state.off": ["Signalling is not running on this platform.", "本平台未启用信令服务。"],
  "device.channels": ["Channels", "通道"],
  "device.channel_count": ["{total} channels", "共 {total} 个通道"],
  "device.no_channels": ["No channels yet. Refresh the catalog to read them from the device.", "暂无通道。可刷新目录从设备读取。"],
  "device.queries": ["Queries", "设备查询"],
  "device.query.catalog": ["Refresh catalog", "刷新目录"],
  "device.query.info": ["Query info", "查询设备信息"],
  "device.query.status": ["Query status", "查询设备状态"],
  "device.query.working": ["Waiting for the device…", "正在等待设备应答…"],
  "device.result.catalog": ["Catalog refreshed", "目录已刷新"],
  "device.result.info": ["Device information", "设备信息"],
  "device.result.status": ["Device status", "设备状态"],
  "device.r.complete": ["Complete", "是否完整"],
  "device.r.items": ["Items received", "收到条目数"],
  "device.r.added": ["Added", "新增"],
  "device.r.changed": ["Changed", "变更"],
  "device.r.removed": ["Removed", "删除"],
  "device.r.unchanged": ["Unchanged", "未变化"],
  "device.r.unplaced": ["Not placed (no registered region fits)", "未入账（无匹配的已登记区划）"],
  "device.r.result": ["Result", "结果"],
  "device.r.device_name": ["Device name", "设备名称"],
  "device.r.manufacturer": ["Manufacturer", "厂商"],
  "device.r.model": ["Model", "型号"],
  "device.r.firmware": ["Firmware", "固件版本"],
  "device.r.channel_count": ["Channels", "通道数"],
  "device.r.online": ["Online", "在线"],
  "device.r.status": ["Working status", "工作状态"],
  "device.r.encode": ["Encoding", "编码状态"],
  "device.r.record": ["Recording", "录像状态"],
  "device.r.device_time": ["Device time", "设备时间"],
  "device.r.reason": ["Reason", "原因"],
  "device.approve": ["Approve", "批准接入"],
  "device.approved": ["{name} is approved.", "已批准 {name} 接入。"],
  "device.disable": ["Disable", "停用"],
  "device.disable_confirm": ["Disable {name}? It can no longer register with the platform.", "确认停用 {name}？停用后该设备将无法注册到平台。"],
  "device.disabled_done": ["{name} is disabled.", "已停用 {name}。"],
  "device.enable": ["Enable", "启用"],
  "device.enabled": ["{name} is enabled.", "已启用 {name}。"],
  "device.password.own": ["Own password", "独立密码"],
  "device.password.default": ["Platform default", "平台默认密码"],
  "device.f.id": ["Device ID", "设备编码"],
  "device.f.name": ["Name", "名称"],
  "device.f.kind": ["Kind", "设备类型"],
  "device.f.status": ["Approval", "接入状态"],
  "device.f.region_code": ["Region code", "行政区划代码"],
  "device.f.org_id": ["Organisation", "建设单位"],
  "device.f.manufacturer": ["Manufacturer", "厂商"],
  "device.f.model": ["Model", "型号"],
  "device.f.firmware": ["Firmware", "固件版本"],
  "device.f.password": ["SIP password", "SIP 密码"],
  "device.f.rtsp_url": ["RTSP address", "RTSP 地址"],
  "device.f.transport": ["Transport", "传输协议"],
  "device.f.address": ["Signalling address", "信令地址"],
  "device.f.online": ["Status", "在线状态"],
  "device.f.last_keepalive_at": ["Last keepalive", "最近心跳"],
  "device.f.registered_at": ["Registered", "注册时间"],
  "device.f.created_at": ["Created", "创建时间"],
  "device.f.updated_at": ["Updated", "更新时间"],
  "device.s.online": ["Status", "在线状态"],
  "device.s.presumed": ["Presumed online", "推定在线"],
  "device.s.registered": ["Registered", "已注册"],
  "device.s.status": ["Approval", "接入状态"],
  "device.s.transport": ["Transport", "传输协议"],
  "device.s.address": ["Address", "信令地址"],
  "device.s.registered_at": ["Registered", "注册时间"],
  "device.s.last_keepalive_at": ["Last keepalive", "最近心跳"],
  "device.s.expires_in_s": ["Expires in", "注册剩余"],

  // signalling log
  "siglog.title": ["Signalling log", "信令日志"],
  "siglog.count": ["last {n} messages", "最近 {n} 条消息"],
  "siglog.empty": ["No SIP messages recorded for this device yet.", "暂无该设备的 SIP 消息记录。"],
  "siglog.in": ["Received from the device", "收到设备消息"],
  "siglog.out": ["Sent to the device", "发往设备"],

  // live view
  "nav.live": ["Live view", "实时预览"],
  "livepage.title": ["Live view", "实时预览"],
  "livepage.points": ["Collection points", "采集点位"],
  "livepage.grid": ["Layout", "画面布局"],
  "livepage.empty_cell": ["Select a point to play", "请选择点位播放"],
  "livepage.stats": ["Stats", "统计"],
  "livepage.snapshot": ["Snapshot", "抓图"],
  "livepage.fullscreen": ["Fullscreen", "全屏"],
  "livepage.close": ["Close", "关闭"],
  "livepage.connecting": ["Connecting…", "正在连接…"],
  "livepage.retrying": ["Connection lost, reconnecting…", "连接中断，正在重连…"],
  "livepage.failed": ["Playback failed.", "播放失败。"],
  "livepage.bitrate": ["Bitrate {kbps} kbit/s", "码率 {kbps} kbit/s"],
  "livepage.fps": ["Frame rate {fps} fps", "帧率 {fps} 帧/秒"],
  "livepage.latency": ["Latency {ms} ms", "延迟 {ms} 毫秒"],
  "livepage.dropped": ["Dropped {dropped} of {total} frames", "丢帧 {dropped}/{total}"],
  "point.live": ["Live", "实时预览"],

  // point detail
  "point.back": ["Back to list", "返回列表"],
  "point.form": ["Collection point attributes", "采集点位属性"],
  "point.section.identity": ["Identity and ownership", "基本信息与权属"],
  "point.section.video": ["Video and storage", "视频与存储"],
  "point.section.location": ["Location", "位置"],
  "point.section.device": ["Device and status", "设备与状态"],
  "point.saved": ["Changes saved.", "修改已保存。"],
  "point.no_changes": ["Nothing has changed.", "没有需要保存的修改。"],
  "point.readonly": ["Read only: you may not edit collection points.", "只读：您无权编辑采集点位。"],
  "field.name": ["Name", "名称"],
  "field.region_code": ["Region code", "行政区划代码"],
  "field.org_id": ["Organisation", "建设单位"],
  "field.point_class": ["Class", "点位类别"],
  "field.network": ["Network", "联网网络"],
  "field.secrecy": ["Classified", "涉密"],
  "field.resolution": ["Resolution", "分辨率"],
  "field.hd": ["High definition", "高清"],
  "field.ptz_type": ["Camera type", "摄像机类型"],
  "field.retention_override": ["Retention override (days)", "自定义存储天数"],
  "field.retention_override_hint": ["Leave empty to use the class default.", "留空则采用类别默认值。"],
  "field.address": ["Address", "安装地址"],
  "field.longitude": ["Longitude", "经度"],
  "field.latitude": ["Latitude", "纬度"],
  "field.civil_code": ["Civil code", "行政区域编码"],
  "field.device_id": ["Device ID", "设备编码"],
  "field.region_name": ["Region", "行政区划"],
  "field.org_name": ["Organisation", "建设单位"],
  "field.retention_days": ["Retention (days)", "存储天数"],
  "field.manufacturer": ["Manufacturer", "厂商"],
  "field.model": ["Model", "型号"],
  "field.online": ["Status", "在线状态"],
  "field.status_changed_at": ["Status changed", "状态变更时间"],
  "field.created_at": ["Created", "创建时间"],
  "field.updated_at": ["Updated", "更新时间"],

  // ledger import
  "import.title": ["Ledger import", "台账导入"],
  "import.help": [
    "Upload the ledger as CSV or Excel (.xlsx). Every row is checked first: if any row has an error, nothing is imported.",
    "上传 CSV 或 Excel (.xlsx) 格式的台账。系统先校验全部行：任何一行有误，则不导入任何数据。",
  ],
  "import.columns_hint": [
    "Required columns: 国标编码 (or 编码 / id), 名称 (name), 行政区划 (region_code), 点位类别 (point_class). Optional: 建设单位编码, 建设单位, 联网网络, 分辨率, 高清, 存储天数, 摄像机类型, 经度, 纬度, 安装地址, and more. Headers may be Chinese or English.",
    "必填列：国标编码（或“编码”）、名称、行政区划、点位类别。可选列：建设单位编码、建设单位、联网网络、分辨率、高清、存储天数、摄像机类型、经度、纬度、安装地址等。表头可用中文或英文。",
  ],
  "import.file": ["Ledger file", "台账文件"],
  "import.dry_run": ["Dry run: check only, change nothing", "试运行：仅校验，不写入"],
  "import.submit": ["Import", "导入"],
  "import.working": ["Importing…", "正在导入…"],
  "import.no_file": ["Choose a file first.", "请先选择文件。"],
  "import.result": ["Import result", "导入结果"],
  "import.applied": ["The ledger was imported.", "台账已导入。"],
  "import.dry_run_done": ["Dry run passed; nothing was changed.", "试运行通过，未写入任何数据。"],
  "import.rows": ["Rows", "总行数"],
  "import.created": ["Created", "新增"],
  "import.updated": ["Updated", "更新"],
  "import.unchanged": ["Unchanged", "未变化"],
  "import.orgs_created": ["Organisations created", "新建单位"],
  "import.devices_created": ["Devices created", "新建设备"],
  "import.errors": ["Error report", "错误报告"],
  "import.error_count": ["{n} errors found.", "共发现 {n} 处错误。"],

  // users and roles
  "users.title": ["Users", "用户"],
  "users.create": ["New user", "新建用户"],
  "users.create_submit": ["Create user", "创建用户"],
  "users.created": ["User {name} created.", "已创建用户 {name}。"],
  "users.edit": ["Edit", "编辑"],
  "users.edit_title": ["Edit user {name}", "编辑用户 {name}"],
  "users.username": ["Username", "用户名"],
  "users.display_name": ["Display name", "显示名称"],
  "users.password": ["Password", "密码"],
  "users.role": ["Role", "角色"],
  "users.scope": ["Data scope", "数据范围"],
  "users.status": ["Status", "状态"],
  "users.created_at": ["Created", "创建时间"],
  "users.active": ["Active", "正常"],
  "users.disabled": ["Disabled", "已停用"],
  "users.disable": ["Disable", "停用"],
  "users.enable": ["Enable", "启用"],
  "users.disable_confirm": ["Disable {name}? The account can no longer sign in.", "确认停用 {name}？停用后该账号将无法登录。"],
  "users.disabled_done": ["{name} is disabled.", "已停用 {name}。"],
  "users.enabled_done": ["{name} is enabled.", "已启用 {name}。"],
  "users.reset_password": ["Reset password", "重置密码"],
  "users.reset_password_title": ["New password for {name}", "为 {name} 设置新密码"],
  "users.new_password": ["New password", "新密码"],
  "users.password_set": ["The password was changed.", "密码已修改。"],
  "users.revoke": ["Sign out everywhere", "强制下线"],
  "users.revoke_confirm": ["Sign {name} out on every device now?", "确认立即让 {name} 在所有终端下线？"],
  "users.revoked": ["{name} was signed out everywhere.", "{name} 已在所有终端下线。"],
  "scope.all": ["All regions and organisations", "全部区划和单位"],
  "scope.regions": ["Regions", "区划"],
  "scope.orgs": ["Organisations", "单位"],
  "scope.none": ["Nothing", "无"],
  "scope.multi_hint": ["Hold Ctrl (⌘ on a Mac) to choose several.", "按住 Ctrl（Mac 上为 ⌘）可多选。"],
  "roles.title": ["Roles", "角色"],
  "roles.name": ["Role", "角色"],
  "roles.permissions": ["Permissions", "权限"],

  // audit
  "audit.title": ["Audit log", "审计日志"],
  "audit.at": ["Time", "时间"],
  "audit.actor": ["Actor", "操作人"],
  "audit.source_ip": ["Source IP", "来源 IP"],
  "audit.action": ["Action", "操作"],
  "audit.target": ["Target", "对象"],
  "audit.outcome": ["Outcome", "结果"],
  "audit.detail": ["Detail", "详情"],
  "audit.apply": ["Search", "查询"],
  "audit.verify": ["Verify chain", "校验哈希链"],
  "audit.verifying": ["Verifying…", "正在校验…"],
  "audit.verify_ok": ["The chain is intact: {checked} records checked.", "哈希链完整：已校验 {checked} 条记录。"],
  "audit.verify_bad": ["The chain is broken: {n} problems in {checked} records.", "哈希链已被破坏：在 {checked} 条记录中发现 {n} 处问题。"],
  "audit.problem_kind": ["Problem", "问题"],
};

let current = initialLanguage();
const listeners = new Set();

function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === "zh" || saved === "en") return saved;
  } catch {
    /* storage may be unavailable */
  }
  const preferred = (navigator.languages && navigator.languages[0]) || navigator.language || "";
  return preferred.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function lang() {
  return current;
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(STRINGS, key);
}

/** The text for key in the current language, with {name} placeholders filled from params. */
export function t(key, params) {
  const entry = STRINGS[key];
  let text = entry ? entry[current === "zh" ? 1 : 0] : key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}

export function applyDocumentLang() {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

export function setLang(code) {
  if (code !== "zh" && code !== "en") return;
  current = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    /* storage may be unavailable */
  }
  applyDocumentLang();
  listeners.forEach((fn) => fn(code));
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
