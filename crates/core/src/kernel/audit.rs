//! The audit log in words: what each stored action code, entity and detail key is called when
//! the log is read by people (the audit page's sentences). The codes stay as they are in the
//! database and the API; only what is shown comes from here.

/// What an action code is called: 「登记外出」 for `trip.create`. Actions written with a step's
/// code (`request.accept`, `supply.issue`) are found by their prefix.
pub fn action_zh(code: &str) -> Option<&'static str> {
    let zh = match code {
        "login" => "登录",
        "login.failed" => "登录失败",
        "login.throttled" => "登录被限制",
        "logout" => "退出登录",
        "node.create" => "新建辖区节点",
        "node.update" => "修改辖区节点",
        "node.move" => "迁移辖区节点",
        "node.close" => "撤销辖区节点",
        "user.create" => "新建账号",
        "user.update" => "修改账号",
        "user.password" => "设置密码",
        "token.issue" => "签发 API 令牌",
        "token.revoke" => "吊销 API 令牌",
        "api_key.create" => "签发接口密钥",
        "api_key.revoke" => "吊销接口密钥",
        "department.create" => "新建部门",
        "tag.create" => "新增重点人群标签",
        "person.create" => "登记居民",
        "person.bulk_create" => "批量登记居民",
        "person.update" => "修改居民信息",
        "person.unmask" => "查看完整证件号码",
        "person.import" => "导入花名册",
        "person.export" => "导出居民",
        "arrival.create" => "登记来返人员",
        "observation.release" => "解除管控",
        "observation.self_link" => "生成自助打卡码",
        "alert.handle" => "处理预警",
        "alert.overdue" => "逾期未打卡检查",
        "case.create" => "登记病例",
        "contact.create" => "登记密切接触者",
        "contact.update" => "修改密切接触者",
        "contact_chain.unmask" => "查看传播链完整信息",
        "checkpoint.create" => "设立卡口",
        "pass.issue" => "发放出入证",
        "pass.revoke" => "收回出入证",
        "trip.create" => "登记外出",
        "trip.log" => "记录外出体温",
        "trip_group.create" => "登记集体出行",
        "policy.publish" => "发布防控政策",
        "risk_area.create" => "发布风险地区",
        "quarantine_site.create" => "设立集中隔离点",
        "quarantine_site.update" => "修改集中隔离点",
        "quarantine_room.create" => "添加隔离房间",
        "quarantine_room.update" => "修改房间床位",
        "quarantine_stay.assign" => "安排隔离房间",
        "quarantine_stay.move" => "隔离人员换房",
        "quarantine_stay.check_out" => "隔离人员退房",
        "retention.anonymise" => "到期防疫记录匿名化",
        "declaration.submit" => "居民扫码申报",
        "declaration.confirm" => "确认健康申报",
        "declaration.reject" => "不予确认健康申报",
        "declaration_link.create" => "生成申报链接",
        "declaration_link.rotate" => "重新生成申报链接",
        "declaration_link.revoke" => "停用申报链接",
        "report.submit" => "报送日报",
        "report.approve" => "审核通过日报",
        "report.remind" => "催报",
        "report.return" => "退回日报",
        "list.export" => "导出名单",
        "report_template.publish" => "发布报表模板",
        "report_mapping.publish" => "发布报表对照",
        "request.create" => "登记诉求",
        "request.api_read" => "接口读取诉求",
        "request.public_setting" => "修改诉求公开查询设置",
        "request.photo_add" => "上传诉求照片",
        "request.unmask" => "查看诉求人联系方式",
        "request.whistle" => "街乡吹哨",
        "request.whistle_ack" => "部门报到",
        "request.dispatch" => "派单",
        "request.accept" => "接单",
        "request.return" => "退回诉求",
        "request.start" => "开始办理",
        "request.resolve" => "办结诉求",
        "request.rate" => "评价诉求",
        "request.close" => "关闭诉求",
        "request.reopen" => "重新办理诉求",
        "request_category.save" => "保存诉求分类",
        "supply_item.create" => "新增物资品类",
        "supply_site.create" => "设立物资点",
        "supply.receipt" => "物资入库",
        "supply.issue" => "物资发放",
        "supply.adjustment" => "物资调整",
        "supply_transfer.send" => "发出物资调拨",
        "supply_transfer.receive" => "接收物资调拨",
        "supply_transfer.cancel" => "取消物资调拨",
        "supply_threshold.set" => "设置物资预警下限",
        "supply_request.create" => "新建物资申领",
        "supply_request.submit" => "提交物资申领",
        "supply_request.approve" => "审批物资申领",
        "enterprise.create" => "登记企业",
        "enterprise.not_reopened" => "填写未复工原因",
        "enterprise.link" => "生成企业申请链接",
        "enterprise.unmask" => "查看企业联系电话",
        "reopening.submit" => "提交复工申请",
        "reopening.approve" => "同意复工",
        "reopening.reject" => "不同意复工",
        "inspection.create" => "记录复工检查",
        "volunteer.create" => "登记志愿者",
        "volunteer.state" => "变更志愿者状态",
        "volunteer.certificate" => "开具志愿服务时长证明",
        "volunteer_team.create" => "成立志愿服务队",
        "volunteer_team.member" => "加入志愿服务队",
        "activity.create" => "发布服务活动",
        "activity.signup" => "服务活动报名",
        "activity.absent" => "标记活动缺席",
        "hours.report" => "申报服务时长",
        "hours.confirm" => "确认服务时长",
        "hours.reject" => "退回服务时长",
        "notice.create" => "发布通知公告",
        "notice.withdraw" => "撤回通知公告",
        "affair.create" => "起草居务公开条目",
        "affair.attach" => "添加居务公开附件",
        "affair.publish" => "公开居务公开条目",
        "community_page.create" => "生成社区公开码",
        "community_page.rotate" => "更换社区公开码",
        _ => return None,
    };
    Some(zh)
}

/// What an audited entity is called: 「居民」 for `person`.
pub fn entity_zh(code: &str) -> Option<&'static str> {
    let zh = match code {
        "session" => "会话",
        "user" => "账号",
        "node" => "辖区节点",
        "person" => "居民",
        "household" => "户",
        "dwelling" => "房屋",
        "api_token" => "API 令牌",
        "api_key" => "接口密钥",
        "department" => "部门",
        "tag" => "标签",
        "arrival" => "来返登记",
        "observation" => "管控记录",
        "alert" => "预警",
        "epi_case" => "病例",
        "checkpoint" => "卡口",
        "gate_pass" => "出入证",
        "trip" => "外出登记",
        "trip_group" => "集体出行",
        "policy_version" => "防控政策",
        "risk_area" => "风险地区",
        "quarantine_site" => "集中隔离点",
        "quarantine_room" => "隔离房间",
        "quarantine_stay" => "隔离入住",
        "retention" => "到期匿名化",
        "declaration" => "健康申报",
        "declaration_link" => "申报链接",
        "report_submission" => "日报",
        "report_reminder" => "催报",
        "report_template" => "报表模板",
        "report_mapping" => "报表对照",
        "request" => "诉求",
        "request_category" => "诉求分类",
        "supply_item" => "物资品类",
        "supply_site" => "物资点",
        "supply_ledger" => "物资台账",
        "supply_transfer" => "物资调拨",
        "supply_request" => "物资申领",
        "enterprise" => "企业",
        "reopening" => "复工申请",
        "inspection" => "复工检查",
        "volunteer" => "志愿者",
        "volunteer_team" => "志愿服务队",
        "activity" => "服务活动",
        "volunteer_hours" => "服务时长",
        "notice" => "通知公告",
        "affair" => "居务公开",
        "community_page" => "社区公开页",
        _ => return None,
    };
    Some(zh)
}

/// What a detail's key is called in a sentence; keys not listed stay in the raw entry only.
pub fn detail_key_zh(key: &str) -> Option<&'static str> {
    let zh = match key {
        "username" => "账号",
        "role" => "角色",
        "name" => "名称",
        "kind" => "类别",
        "measure" => "措施",
        "status" => "状态",
        "reason" => "原因",
        "rows" => "行数",
        "count" | "persons" => "人数",
        "rooms" => "房间数",
        "beds" => "床位",
        "first" => "首间",
        "last" => "末间",
        "quantity" => "数量",
        "balance_after" => "结存",
        "date" | "on" | "today" => "日期",
        "version" => "版本",
        "key" => "代码",
        "level" => "风险等级",
        "division_code" => "地区",
        "from" | "valid_from" | "effective_from" => "起",
        "until" | "valid_to" => "止",
        "retention_days" => "保留天数",
        "arrivals" => "来返登记",
        "observations" => "管控记录",
        "checkins" => "打卡",
        "alerts" => "预警",
        "declarations" => "健康申报",
        "scans" => "卡口通行",
        "stays" => "隔离入住",
        "trips" => "外出登记",
        "trip_groups" => "集体出行",
        "outcome" => "处理结果",
        "note" => "备注",
        "late" => "逾期",
        "zero" => "零报告",
        "households_created" => "新建户",
        "dwellings_created" => "新建房屋",
        "public_read" => "公开查询",
        "publish_descriptions" => "公开诉求内容",
        _ => return None,
    };
    Some(zh)
}

/// Who did it when no user did: the jobs the server runs by itself.
/// Who did it when no signed-in user did: the server's own jobs, the command line, a resident
/// through a public link, another department's system through its key (`open311:名称`).
pub fn system_actor_zh(actor: &str) -> Option<String> {
    let zh = match actor {
        "system" => "系统（自动任务）",
        "cli" => "系统管理员（命令行）",
        "resident" => "居民（扫码申报）",
        "link" => "企业（申请链接）",
        _ => {
            return actor
                .strip_prefix("open311:")
                .map(|name| format!("外部系统：{name}"))
        }
    };
    Some(zh.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_chinese_and_unknown_ones_are_left_to_the_raw_entry() {
        assert_eq!(action_zh("trip.create"), Some("登记外出"));
        assert_eq!(action_zh("request.accept"), Some("接单"));
        assert_eq!(action_zh("trip.teleport"), None);
        assert_eq!(entity_zh("report_submission"), Some("日报"));
        assert_eq!(detail_key_zh("balance_after"), Some("结存"));
        assert_eq!(
            detail_key_zh("person_id"),
            None,
            "ids stay in the raw entry"
        );
        assert_eq!(
            system_actor_zh("system").as_deref(),
            Some("系统（自动任务）")
        );
        assert_eq!(
            system_actor_zh("open311:区数字城管").as_deref(),
            Some("外部系统：区数字城管")
        );
        assert_eq!(
            system_actor_zh("staff"),
            None,
            "a user is named by the page"
        );
    }
}
