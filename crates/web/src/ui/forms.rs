//! Refused forms: each field's messages in Chinese, shown under the field.

use axum::http::StatusCode;
use linli_store::StoreError;
use serde::Deserialize;

/// A refused form's messages, one per field, shown under the field each belongs to.
#[derive(Default)]
pub struct FieldErrors(pub Vec<(String, String)>);

impl FieldErrors {
    pub fn from_core(errors: &[linli_core::CoreError]) -> FieldErrors {
        FieldErrors(
            errors
                .iter()
                .map(|e| (e.field.clone(), e.message.clone()))
                .collect(),
        )
    }

    /// The messages of one field, joined.
    pub fn of(&self, field: &str) -> String {
        self.0
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("；")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Messages of fields the form has no place for, each with its field's name in Chinese.
    pub fn others(&self, shown: &[&str], label: impl Fn(&str) -> &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(f, _)| !shown.contains(&f.as_str()))
            .map(|(f, m)| format!("{}：{m}", label(f)))
            .collect()
    }
}

/// The field errors of a refused form; any other error is passed back for an error page.
pub fn field_errors(e: StoreError) -> Result<FieldErrors, StoreError> {
    match e {
        StoreError::Invalid(errs) => Ok(FieldErrors::from_core(&errs)),
        StoreError::Conflict { field, message } => Ok(FieldErrors(vec![(field, message)])),
        other => Err(other),
    }
}

/// Field names in Chinese, for error messages.
/// Refusals' messages in one line, for a page that shows them above a form with no per-field
/// places (each message already says what is wrong).
pub fn messages(errors: &[linli_core::CoreError]) -> String {
    errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("；")
}

/// A list's day filter from its `from` and `to` fields: the range, or the refusal as a page
/// shows it (「开始日期：「2020-02-30」不是有效日期……」).
pub fn day_range(from: &str, to: &str) -> Result<linli_core::kernel::clock::DayRange, String> {
    linli_core::kernel::clock::DayRange::parse(from, to).map_err(|e| {
        let field = if e.field == "from" {
            "开始日期"
        } else {
            "结束日期"
        };
        format!("{field}：{}", e.message)
    })
}

pub fn field_label(field: &str) -> &str {
    match field {
        "name" => "名称",
        "code" => "代码",
        "kind" => "类型",
        "parent_id" => "上级",
        "new_parent_id" => "新上级",
        "household_estimate" => "户数",
        "opened_on" => "设立日期",
        "closed_on" => "撤销日期",
        "username" => "登录名",
        "password" => "密码",
        "role" => "角色",
        "node_ids" => "所属辖区",
        "display_name" => "姓名",
        "label" => "标签",
        "id_number" => "证件号码",
        "id_kind" => "证件类型",
        "phone" => "电话",
        "gender" => "性别",
        "birth_date" => "出生日期",
        "ethnic_group" => "民族",
        "hukou_address" => "户籍地址",
        "category" => "人员类别",
        "relation" => "与户主关系",
        "address" => "住址",
        "room" => "房号",
        "tags" => "重点人群",
        "state" => "状态",
        "moved_out_on" => "迁出日期",
        "moved_to" => "迁往",
        "deceased_on" => "死亡日期",
        "away_since" => "外出日期",
        "away_to" => "外出去向",
        "household_id" => "户",
        "node_id" => "所属辖区",
        "credit_code" => "统一社会信用代码",
        "employees" => "员工人数",
        "contact_name" => "联系人",
        "contact_phone" => "联系电话",
        "checklist" => "复工条件",
        "extra_items" => "其他措施",
        "employees_back" => "返岗人数",
        "planned_on" => "计划复工日期",
        "decision" => "审批意见",
        "reason" => "原因",
        "inspected_on" => "检查日期",
        "inspector" => "检查人",
        "findings" => "检查情况",
        "passed" => "检查结论",
        "enterprise_id" => "企业",
        other => other,
    }
}

/// Messages for a failed form, one per field.
pub fn form_errors(e: StoreError) -> Result<Vec<String>, StoreError> {
    form_errors_with(e, field_label)
}

/// [`form_errors`], with the form's own names for its fields.
pub fn form_errors_with(
    e: StoreError,
    label: impl Fn(&str) -> &str,
) -> Result<Vec<String>, StoreError> {
    match e {
        StoreError::Invalid(errs) => Ok(errs
            .iter()
            .map(|e| format!("{}：{}", label(&e.field), e.message))
            .collect()),
        StoreError::Conflict { field, message } => {
            Ok(vec![format!("{}：{}", label(&field), message)])
        }
        other => Err(other),
    }
}

/// The status of a page with a form: 422 when it shows a refused form again, else 200.
pub fn form_status(refused: bool) -> StatusCode {
    if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// A form with no fields but its CSRF token.
#[derive(Deserialize)]
pub struct Empty {}

/// An optional whole number from a form field; blank is `None`.
pub fn optional_number(field: &str, raw: &str) -> Result<Option<i64>, StoreError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>()
        .map(Some)
        .map_err(|_| StoreError::invalid(field, format!("「{raw}」不是整数")))
}
